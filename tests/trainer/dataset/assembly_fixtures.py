"""Catalogs, samples and run directories for the assembly tests (splits, exports, store, card).

Everything is built in code and seeded, so each test reads the same data on every machine. Tool
parameters differ in shape from tool to tool on purpose: a dataset built without ``Json()`` features
would merge their argument structs and fill other tools' keys with nulls.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

from schemas.catalog import Catalog
from schemas.manifest import CatalogManifest, SpecEntry
from schemas.models import (
    ArgumentBinding,
    ExecutionResult,
    HttpBinding,
    Provenance,
    Sample,
    Tool,
    ToolCall,
    ToolSource,
    Verdict,
)
from schemas.shards import shard_name, write_failures, write_samples, write_verdicts

CATEGORIES = ("modeling", "loads", "analysis")
_WORDS = [
    "beam",
    "column",
    "slab",
    "footing",
    "truss",
    "girder",
    "brace",
    "node",
    "element",
    "material",
    "section",
    "support",
    "spring",
    "load",
    "wind",
    "snow",
    "seismic",
    "pressure",
    "temperature",
    "moment",
    "shear",
    "axial",
    "torsion",
    "deflection",
    "mesh",
    "plate",
    "shell",
    "frame",
    "storey",
    "bay",
    "span",
    "cantilever",
    "anchor",
    "bolt",
    "weld",
    "rebar",
    "concrete",
    "steel",
    "timber",
    "grid",
    "axis",
    "level",
]
_KO_WORDS = [
    "보",
    "기둥",
    "슬래브",
    "기초",
    "트러스",
    "거더",
    "가새",
    "절점",
    "요소",
    "재료",
    "단면",
    "지점",
    "스프링",
    "하중",
    "풍하중",
    "적설",
    "지진",
    "압력",
    "온도",
]
STYLES = ("simple", "multiple", "parallel", "parallel_multiple", "irrelevance")


def make_tool(name: str, *, tier: int | None, category: str | None, description: str | None = None) -> Tool:
    """A POST tool whose body has a property named after the tool (so argument keys differ per tool)."""
    key = name.upper()
    return Tool(
        name=name,
        description=description if description is not None else f"Create {name.replace('_', ' ')} records",
        parameters={
            "type": "object",
            "properties": {
                "Assign": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "properties": {key: {"type": "number"}, "LABEL": {"type": "string"}},
                        "required": [key],
                    },
                }
            },
            "required": ["Assign"],
        },
        binding=HttpBinding(
            method="POST",
            path=f"/db/{key}",
            server_url="http://127.0.0.1:1/gen",
            arguments={"Assign": ArgumentBinding(location="body-property", name="Assign", required=True)},
            body_media_type="application/json",
        ),
        tier=tier,
        category=category,
        source=ToolSource(file="gennx.yaml", title="GEN NX", version="1", pointer=f"/paths/~1db~1{key}/post"),
    )


def make_catalog(per_tier: Sequence[int] = (10, 10, 10), *, edits: dict[str, str] | None = None) -> Catalog:
    """``per_tier[i]`` tools of tier ``i + 1``, spread over three categories; ``edits`` changes descriptions."""
    edits = edits or {}
    tools = []
    for tier_index, count in enumerate(per_tier):
        for i in range(count):
            name = f"t{tier_index + 1}_tool_{i:02d}"
            tools.append(
                make_tool(
                    name,
                    tier=tier_index + 1,
                    category=CATEGORIES[i % len(CATEGORIES)],
                    description=edits.get(name),
                )
            )
    manifest = CatalogManifest(
        tool_count=len(tools),
        specs=[SpecEntry(file="gennx.yaml", title="GEN NX", version="1", sha256="ab" * 32, tools=len(tools))],
    )
    return Catalog(tools, manifest)


def _query(rng: random.Random, language: str, names: Sequence[str]) -> str:
    words = _KO_WORDS if language == "ko" else _WORDS
    body = " ".join(rng.choice(words) for _ in range(9))
    numbers = " ".join(str(rng.randint(0, 99999)) for _ in range(3))
    target = " and ".join(names) if names else "something else"
    return f"{body} {numbers} using {target}"


def _call(rng: random.Random, name: str) -> ToolCall:
    return ToolCall(
        name=name, arguments={"Assign": {str(rng.randint(1, 999)): {name.upper(): rng.randint(0, 50)}}}
    )


def make_samples(
    catalog: Catalog, count: int, *, seed: int = 0, with_execution: bool = False
) -> list[Sample]:
    """``count`` samples cycling through every style and both languages, targets spread over the catalog."""
    rng = random.Random(seed)
    names = [t.name for t in catalog]
    tier_of = {t.name: t.tier for t in catalog}
    out: list[Sample] = []
    while len(out) < count:
        i = len(out)
        style = STYLES[i % len(STYLES)]
        language = "ko" if (i // len(STYLES)) % 2 else "en"
        first = names[rng.randrange(len(names))]
        others = rng.sample([n for n in names if n != first], 3)
        if style == "simple":
            offered, calls = [first], [_call(rng, first)]
        elif style == "multiple":
            offered, calls = [first, *others[:2]], [_call(rng, first)]
        elif style == "parallel":
            offered, calls = [first, others[0]], [_call(rng, first), _call(rng, first)]
        elif style == "parallel_multiple":
            offered, calls = [first, others[0], others[1]], [_call(rng, first), _call(rng, others[0])]
        else:
            offered, calls = others[:2], []
        rng.shuffle(offered)
        execution = None
        if with_execution and calls:
            execution = [
                ExecutionResult(call_index=k, status_code=200, response=f'{{"{c.name.upper()}": {k}}}')
                for k, c in enumerate(calls)
            ]
        out.append(
            Sample.create(
                query=_query(rng, language, [c.name for c in calls]),
                language=language,
                style=style,
                tools=offered,
                calls=calls,
                tier=tier_of[first] if calls else None,
                provenance=Provenance(generator="template", prompt_version="v1", seed=seed),
                execution=execution,
            )
        )
    return out


def write_run(run_dir: Path, catalog: Catalog, samples: Sequence[Sample], *, shard_size: int = 200) -> Path:
    """A run directory as verify leaves it: catalog, verified shards, verdicts, a rejection, a failure."""
    catalog.save(run_dir / "catalog")
    for index, start in enumerate(range(0, max(len(samples), 1), shard_size)):
        write_samples(run_dir / "verified" / shard_name(index), samples[start : start + shard_size])
    rejected = Sample.create(
        query="make it do the thing",
        language="en",
        style="simple",
        tools=[catalog.tools[0].name],
        calls=[ToolCall(name=catalog.tools[0].name, arguments={})],
    )
    write_samples(run_dir / "rejected" / shard_name(0), [rejected])
    verdicts = [
        Verdict(sample_id=s.id, verifier=v, passed=True) for s in samples for v in ("format", "execution")
    ]
    verdicts.append(
        Verdict(
            sample_id=rejected.id,
            verifier="format",
            passed=False,
            code="missing_required",
            message="Assign is required",
        )
    )
    verdicts.append(Verdict(sample_id=rejected.id, verifier="execution", passed=None, code="skipped"))
    write_verdicts(run_dir / "verdicts" / shard_name(0), verdicts)
    write_failures(
        run_dir / "candidates" / "failures-00000.parquet",
        [{"item_id": "item-1", "code": "teacher_refused", "message": "no"}],
    )
    return run_dir


def near_duplicates(sample: Sample, count: int) -> list[Sample]:
    """``count`` variants of ``sample`` whose queries differ by one short trailing word (Jaccard > 0.9)."""
    return [
        Sample.create(**{**sample.model_dump(exclude={"id", "query"}), "query": f"{sample.query} {word}"})
        for word in ("now", "pls", "ok!", "asap", "thx")[:count]
    ]
