"""The card's quota section: tools still below quota, with why, read from a run directory."""

from __future__ import annotations

import json

from schemas.models import Provenance, Sample, Verdict
from schemas.shards import shard_name, write_failures, write_samples, write_verdicts
from tests.trainer.dataset.assembly_fixtures import make_catalog
from trainer.dataset.quotas import quota_report


def _sample(tool: str, item: str, n: int) -> Sample:
    return Sample.create(
        query=f"add {tool} record {n}",
        style="simple",
        tools=[tool],
        calls=[{"name": tool, "arguments": {"Assign": {str(n): {tool.upper(): n}}}}],
        tier=1,
        provenance=Provenance(generator="template", work_item=item),
    )


def _run(tmp_path):
    catalog = make_catalog((3, 1, 0))
    a, b, c, d = "t1_tool_00", "t1_tool_01", "t1_tool_02", "t2_tool_00"
    plan = tmp_path / "plan"
    plan.mkdir()
    quotas = {"quotas": {a: 3, b: 2, c: 2, d: 1}, "top_up": {"max_per_tool": 4, "tried": {a: 4}}}
    (plan / "quotas.json").write_text(json.dumps(quotas), "utf-8")
    items = [(f"i{k}", s) for k, s in enumerate([a, a, a, b, b, c, c, a])]  # i7 repeated i0's sample
    (plan / "items.jsonl").write_text("".join(json.dumps({"id": i, "subject": s}) + "\n" for i, s in items))
    kept = [_sample(a, "i0", 0), _sample(b, "i3", 3), _sample(b, "i4", 4)]
    lost = [_sample(a, "i1", 1), _sample(a, "i2", 2), _sample(c, "i5", 5)]
    write_samples(tmp_path / "verified" / shard_name(0), kept)
    write_samples(tmp_path / "rejected" / shard_name(0), lost)
    verdicts = [Verdict(sample_id=s.id, verifier="format", passed=True, code="ok") for s in kept + lost]
    verdicts += [
        Verdict(sample_id=s.id, verifier="execution", passed=False, code="http_422") for s in lost[:2]
    ]
    verdicts.append(Verdict(sample_id=lost[2].id, verifier="dedup", passed=False, code="exact_duplicate"))
    write_verdicts(tmp_path / "verdicts" / shard_name(0), verdicts)
    write_failures(tmp_path / "candidates" / "failures-00000.parquet", [{"item_id": "i6", "code": "timeout"}])
    return catalog


def test_tools_under_quota_are_listed_with_their_rejections_and_top_up_state(tmp_path) -> None:
    catalog = _run(tmp_path)
    report = quota_report(tmp_path, catalog, None)  # no store: this run's verified samples count
    rows = {row["tool"]: row for row in report["under_quota"]}
    assert sorted(rows) == ["t1_tool_00", "t1_tool_02", "t2_tool_00"]  # t1_tool_01 reached 2 of 2
    assert rows["t1_tool_00"]["accepted"] == 1
    assert "execution:http_422 x2" in rows["t1_tool_00"]["reason"]
    assert "top-up bound spent (4/4" in rows["t1_tool_00"]["reason"]
    assert "1 of its 4 items gave a sample another item had already given" in rows["t1_tool_00"]["reason"]
    assert "already given" not in rows["t1_tool_02"]["reason"]  # its failure is an outcome, not a repeat
    assert "dedup:exact_duplicate x1" in rows["t1_tool_02"]["reason"]
    assert "generate:timeout x1" in rows["t1_tool_02"]["reason"]
    assert "no item of it in this run's plan" in rows["t2_tool_00"]["reason"]
    assert report["tier1_under"] == 2


def test_the_store_count_replaces_this_runs_count(tmp_path) -> None:
    catalog = _run(tmp_path)
    report = quota_report(
        tmp_path, catalog, {"t1_tool_00": 3, "t1_tool_01": 2, "t1_tool_02": 2, "t2_tool_00": 1}
    )
    assert report["under_quota"] == [] and report["tier1_under"] == 0


def test_a_run_without_a_quotas_file_reports_nothing(tmp_path) -> None:
    assert quota_report(tmp_path, make_catalog((2, 0, 0)), None) is None


def test_a_sample_given_by_two_items_counts_once(tmp_path) -> None:
    from trainer.dataset.quotas import run_accepted

    _run(tmp_path)
    again = _sample("t1_tool_01", "i4", 3)  # item i4 gave i3's sample (provenance is not part of the id)
    assert again.id == _sample("t1_tool_01", "i3", 3).id
    write_samples(tmp_path / "verified" / shard_name(1), [again])
    assert run_accepted(tmp_path)["t1_tool_01"] == 2  # i3's and i4's samples, not three
