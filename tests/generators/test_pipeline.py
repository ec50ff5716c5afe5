"""generate / generate_shard / plan files / resume helpers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from generators import pipeline
from generators.config import GenerateConfig, PlanConfig
from generators.plan import WorkItem, build_plan
from schemas import shards
from schemas.catalog import Catalog
from schemas.errors import RecordError


@pytest.fixture(scope="module")
def items(catalog: Catalog) -> list[WorkItem]:
    return build_plan(catalog, PlanConfig(seed=31))[:40]


def test_generate_without_a_teacher_uses_the_offline_generator(
    catalog: Catalog, items: list[WorkItem]
) -> None:
    result = pipeline.generate(items, catalog, GenerateConfig())
    assert result.stats["generator"] == "template" and "teacher" not in result.stats
    assert result.stats["samples"] == len(result.samples) == len(items)
    assert sum(result.stats["by_style"].values()) == len(items)


def test_generate_works_from_inside_a_running_event_loop(catalog: Catalog, items: list[WorkItem]) -> None:
    async def inside() -> int:
        return len(pipeline.generate(items, catalog, GenerateConfig()).samples)

    assert asyncio.run(inside()) == len(items)


@pytest.mark.parametrize("target", ["run", "candidates"])
def test_a_shard_is_written_as_samples_and_failures(
    catalog: Catalog, items: list[WorkItem], tmp_path: Path, target: str
) -> None:
    out = tmp_path if target == "run" else tmp_path / "candidates"
    broken = items[0].model_copy(update={"language": "fr"})
    summary = pipeline.generate_shard([broken, *items[1:]], catalog, GenerateConfig(), out, 7)
    samples_path = tmp_path / "candidates" / "shard-00007.parquet"
    failures_path = tmp_path / "candidates" / "failures-00007.parquet"
    assert summary["paths"] == {"samples": str(samples_path), "failures": str(failures_path)}
    assert [s.provenance.work_item for s in shards.read_samples(samples_path)] == [i.id for i in items[1:]]
    assert [f["code"] for f in shards.read_failures(failures_path)] == ["unsupported_language"]
    assert summary["samples"] == len(items) - 1 and summary["failures_by_code"] == {"unsupported_language": 1}


def test_an_empty_failures_file_marks_a_clean_shard(
    catalog: Catalog, items: list[WorkItem], tmp_path: Path
) -> None:
    pipeline.generate_shard(items, catalog, GenerateConfig(), tmp_path, 0)
    assert shards.read_failures(tmp_path / "candidates" / "failures-00000.parquet") == []


def test_generated_ids_and_next_shard_index_resume_a_run(
    catalog: Catalog, items: list[WorkItem], tmp_path: Path
) -> None:
    assert pipeline.next_shard_index(tmp_path) == 0 and pipeline.settled_item_ids(tmp_path) == set()
    broken = items[0].model_copy(update={"language": "fr"})
    pipeline.generate_shard([broken, *items[1:20]], catalog, GenerateConfig(), tmp_path, 0)
    pipeline.generate_shard(items[20:], catalog, GenerateConfig(), tmp_path, 1)
    assert pipeline.next_shard_index(tmp_path) == 2
    assert pipeline.settled_item_ids(tmp_path) == {i.id for i in items}  # the failure is final
    assert pipeline.settled_item_ids(tmp_path, retry_failed=True) == {i.id for i in items[1:]}


def test_a_plan_file_round_trips(items: list[WorkItem], tmp_path: Path) -> None:
    path = pipeline.write_plan(tmp_path / "plan" / "items.jsonl", items)
    assert pipeline.read_plan(path) == items


def test_a_bad_plan_line_names_the_file_and_line(items: list[WorkItem], tmp_path: Path) -> None:
    path = tmp_path / "items.jsonl"
    path.write_text(items[0].model_dump_json() + "\n" + '{"style": "simple"}\n')
    with pytest.raises(RecordError, match=r"items\.jsonl:2: invalid work item"):
        pipeline.read_plan(path)


def test_reconcile_keeps_one_record_per_item_after_an_interrupted_rerun(
    catalog: Catalog, items: list[WorkItem], tmp_path: Path
) -> None:
    """A rerun killed after writing its shard but before superseding the older failure records."""
    samples = pipeline.generate(items[:4], catalog, GenerateConfig()).samples
    candidates = tmp_path / "candidates"
    fail = [{"item_id": i.id, "code": "teacher_http_503", "message": "m", "details": {}} for i in items[:6]]
    shards.write_failures(candidates / "failures-00000.parquet", fail)  # items 0-5 failed first
    shards.write_samples(candidates / "shard-00001.parquet", samples)  # 0-3 answered on the rerun
    shards.write_failures(candidates / "failures-00001.parquet", fail[5:])  # 5 failed again
    assert pipeline.reconcile_failures(tmp_path) == 5 and pipeline.reconcile_failures(tmp_path) == 0
    assert [f["item_id"] for f in shards.read_failures(candidates / "failures-00000.parquet")] == [
        items[4].id
    ]
    assert [f["item_id"] for f in shards.read_failures(candidates / "failures-00001.parquet")] == [
        items[5].id
    ]


def test_only_failures_without_an_answer_are_retried_by_default(
    catalog: Catalog, items: list[WorkItem], tmp_path: Path
) -> None:
    codes = ["teacher_error_connection", "teacher_http_401", "generator_error", "malformed_json", "too_deep",
             "unknown_tool"]  # fmt: skip
    fail = [
        {"item_id": i.id, "code": c, "message": "m", "details": {}}
        for i, c in zip(items, codes, strict=False)
    ]
    shards.write_failures(tmp_path / "candidates" / "failures-00000.parquet", fail)
    assert pipeline.settled_item_ids(tmp_path) == {i.id for i in items[3:6]}
    assert pipeline.retryable_failed_ids(tmp_path) == {i.id for i in items[:3]}
    assert pipeline.settled_item_ids(tmp_path, retry_failed=True) == set()
