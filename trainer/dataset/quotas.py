"""Tools still below their quota of accepted samples, and why: the dataset card's ``Quotas`` section.

    quotas = quota_report(run_dir, catalog, store.satisfied(catalog))   # None when the run has no plan

In: ``plan/quotas.json`` (written by the generate stage: each tool's quota, and the top-up items tried
for it so far with their bound), ``plan/items.jsonl`` (each item's subject), and the run's rejected
samples, verdicts and generation failures. ``accepted`` is the store's count per subject (every run's
accepted samples); without a store, this run's verified samples are counted.

A tool's reason names what happened to its items: the most frequent rejection codes of this run
(``verifier:code``) and generation failures, and where its top-up stands -- a tool whose top-up bound is
spent is not retried by later refreshes, so the card is where a person picks it up.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

from schemas.catalog import Catalog
from schemas.errors import RecordError

QUOTAS_FILE = "plan/quotas.json"
ITEMS_FILE = "plan/items.jsonl"
_TOP_CODES = 3


def _subjects(run_dir: Path) -> pl.DataFrame:
    path = run_dir / ITEMS_FILE
    if not path.exists():
        return pl.DataFrame(schema={"item": pl.String, "subject": pl.String})
    return pl.read_ndjson(path).select(item=pl.col("id"), subject=pl.col("subject"))


def _work_items(pattern: str, run_dir: Path) -> pl.LazyFrame | None:
    paths = sorted(run_dir.glob(pattern))
    if not paths:
        return None
    return pl.scan_parquet([str(p) for p in paths]).select(
        "id", item=pl.col("record").str.json_path_match("$.provenance.work_item")
    )


def _rejection_codes(run_dir: Path, subjects: pl.DataFrame) -> dict[str, Counter[str]]:
    """subject -> Counter of why its items did not become accepted samples in this run."""
    out: dict[str, Counter[str]] = {}
    rejected = _work_items("rejected/shard-*.parquet", run_dir)
    verdicts = sorted(run_dir.glob("verdicts/shard-*.parquet"))
    if rejected is not None and verdicts:
        failed = (
            pl.scan_parquet([str(p) for p in verdicts])
            .filter(pl.col("passed").eq(False))
            .group_by("sample_id")
            .agg(code=pl.format("{}:{}", pl.col("verifier").first(), pl.col("code").first()))
        )
        rows = (
            rejected.join(failed, left_on="id", right_on="sample_id")
            .join(subjects.lazy(), on="item")
            .select("subject", "code")
            .collect()
        )
        for subject, code in rows.iter_rows():
            out.setdefault(subject, Counter())[code] += 1
    failures = sorted(run_dir.glob("candidates/failures-*.parquet"))
    if failures:
        rows = (
            pl.scan_parquet([str(p) for p in failures])
            .select(item=pl.col("item_id"), code=pl.format("generate:{}", pl.col("code")))
            .join(subjects.lazy(), on="item")
            .select("subject", "code")
            .collect()
        )
        for subject, code in rows.iter_rows():
            out.setdefault(subject, Counter())[code] += 1
    return out


def run_accepted(run_dir: Path, subjects: pl.DataFrame | None = None) -> dict[str, int]:
    """subject -> this run's verified samples (``verified/shard-*``), by the plan's subjects."""
    subjects = _subjects(run_dir) if subjects is None else subjects
    verified = _work_items("verified/shard-*.parquet", run_dir)
    if verified is None:
        return {}
    # Distinct samples: two items (in different shards) that gave the same sample are one in the store.
    rows = verified.join(subjects.lazy(), on="item").group_by("subject").agg(n=pl.col("id").n_unique())
    return dict(rows.collect().iter_rows())


def _outcomes(run_dir: Path, subjects: pl.DataFrame) -> dict[str, int]:
    """subject -> items of this run that ended as a verified or rejected sample, or a generation failure."""
    frames = [
        frame.select("item")
        for frame in (
            _work_items("verified/shard-*.parquet", run_dir),
            _work_items("rejected/shard-*.parquet", run_dir),
        )
        if frame is not None
    ]
    failures = sorted(run_dir.glob("candidates/failures-*.parquet"))
    if failures:
        frames.append(pl.scan_parquet([str(p) for p in failures]).select(item=pl.col("item_id")))
    if not frames:
        return {}
    rows = pl.concat(frames).unique().join(subjects.lazy(), on="item").group_by("subject").agg(n=pl.len())
    return dict(rows.collect().iter_rows())


def _reason(codes: Counter[str] | None, planned: int, outcomes: int, tried: int, bound: int) -> str:
    parts = []
    if codes:
        parts.append("rejected " + ", ".join(f"{code} x{n}" for code, n in codes.most_common(_TOP_CODES)))
    if planned > outcomes:
        # an item whose sample another item had already given is dropped before verification
        parts.append(
            f"{planned - outcomes} of its {planned} items gave a sample another item had already given"
        )
    if not planned:
        parts.append("no item of it in this run's plan (all tried by earlier runs: the attempts ledger)")
    if tried >= bound:
        parts.append(
            f"top-up bound spent ({tried}/{bound} extra items tried): not retried until the tool changes"
        )
    else:
        parts.append(f"top-up {tried}/{bound} extra items tried so far: the next refresh tries more")
    return "; ".join(parts)


def quota_report(
    run_dir: Path, catalog: Catalog, accepted: Mapping[str, int] | None
) -> dict[str, Any] | None:
    """``{"tools", "under_quota": [{tool, tier, quota, accepted, top_up_tried, reason}], "tier1_under"}``, or
    ``None`` when the run wrote no ``plan/quotas.json`` (a dataset assembled outside a refresh)."""
    path = run_dir / QUOTAS_FILE
    if not path.exists():
        return None
    try:
        plan = json.loads(path.read_text("utf-8"))
        quotas: dict[str, int] = {str(k): int(v) for k, v in plan["quotas"].items()}
        tried: dict[str, int] = {str(k): int(v) for k, v in plan.get("top_up", {}).get("tried", {}).items()}
        bound = int(plan.get("top_up", {}).get("max_per_tool", 0))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise RecordError(f"{path}: expected {{quotas: {{tool: n}}, top_up: {{...}}}}: {exc}") from exc
    subjects = _subjects(run_dir)
    counts = dict(accepted) if accepted is not None else run_accepted(run_dir, subjects)
    tiers = {t.name: t.tier for t in catalog}
    short = {name: quota for name, quota in quotas.items() if name in tiers and counts.get(name, 0) < quota}
    codes = _rejection_codes(run_dir, subjects) if short else {}
    planned = dict(subjects.group_by("subject").agg(n=pl.len()).iter_rows()) if short else {}
    outcomes = _outcomes(run_dir, subjects) if short else {}
    under = [
        {
            "tool": name,
            "tier": tiers[name],
            "quota": quota,
            "accepted": counts.get(name, 0),
            "top_up_tried": tried.get(name, 0),
            "reason": _reason(
                codes.get(name), planned.get(name, 0), outcomes.get(name, 0), tried.get(name, 0), bound
            ),
        }
        for name, quota in sorted(short.items(), key=lambda kv: (tiers[kv[0]] or 9, kv[0]))
    ]
    return {
        "tools": len(quotas),
        "under_quota": under,
        "tier1_under": sum(1 for row in under if row["tier"] == 1),
        "top_up_max_per_tool": bound,
    }
