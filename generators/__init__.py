"""The generate stage: work items from a catalog, and candidate samples from work items.

    plan.py        build_plan(catalog, PlanConfig) -> list[WorkItem]   (quotas, styles, languages)
    offline.py     OfflineGenerator: templates, no network, deterministic  (values.py, phrasing.py)
    llm.py         LLMGenerator: prompts.py + teacher.py (+ cache.py, parsing.py, seed_pool.py)
    pipeline.py    generate(items, catalog, GenerateConfig) / generate_shard(...) -> candidates/ shards
    config.py      GenerateConfig = PlanConfig + TeacherConfig + OfflineConfig

Modules are imported directly (``from generators.plan import build_plan``); this package imports
nothing so that ``import generators.plan`` does not pull in the openai client.
"""
