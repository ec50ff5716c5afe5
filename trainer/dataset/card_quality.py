"""The dataset card's quality sections: what the hold-out covers, row lengths, tools under quota.

``render_quality(manifest, report)`` returns Markdown for ``trainer.dataset.card.render_card``; each section
is read from the manifest (``split_report.holdout``, ``lengths``, ``quotas``) and left out when the
manifest has nothing for it (a dataset assembled without a plan has no quotas to report).
"""

from __future__ import annotations

from typing import Any

_SHOWN = 15  # tools named in a list before "and N more"


def _pairs(counts: dict[str, Any]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in counts.items()) or "_none_"


def _holdout(report: Any) -> str:
    holdout, mix = report.holdout, report.unseen_mix
    if not holdout and not mix:
        return ""
    lines = ["\n### Hold-out\n\n"]
    if holdout:
        lines.append(
            f"{holdout.get('tools', 0)} tools in {holdout.get('families', 0)} endpoint families (every method "
            "of a held-out path and every tool with the same canonical parameter schema go together). "
            f"By tier: {_pairs(holdout.get('by_tier', {}))} (goal {_pairs(holdout.get('goal_by_tier', {}))}). "
            f"By category: {_pairs(holdout.get('by_category', {}))}.\n"
        )
    if mix:
        lines.append(
            f"\n`test_unseen`: {mix.get('samples', 0)} samples, {mix.get('irrelevance', 0)} irrelevance, "
            f"{mix.get('unseen_targets_with_seen_distractors', 0)} with held-out targets among seen "
            f"distractors; {mix.get('calls_to_held_out_tools', 0)} calls to held-out tools and "
            f"{mix.get('calls_to_seen_tools', 0)} to seen ones (scored separately).\n"
        )
    return "".join(lines)


def _lengths(lengths: dict[str, Any] | None) -> str:
    if not lengths:
        return ""
    dist = lengths.get("distribution", {})
    return (
        "\n## Row lengths\n\n"
        f"Measured with {lengths.get('meter', '?')}. Training rows (train + validation) must fit "
        f"`max_length` {lengths.get('max_length')} so no assistant turn is cut.\n\n"
        "| rows | p50 | p90 | p99 | max | over before | fewer distractors | dropped | over after |\n"
        "|---|---|---|---|---|---|---|---|---|\n"
        f"| {lengths.get('rows', 0)} | {dist.get('p50')} | {dist.get('p90')} | {dist.get('p99')} | "
        f"{dist.get('max')} | {lengths.get('over_before', 0)} | {lengths.get('redrawn', 0)} | "
        f"{lengths.get('dropped', 0)} | {lengths.get('over_after', 0)} |\n"
    ) + _dropped_tools(lengths)


def _dropped_tools(lengths: dict[str, Any]) -> str:
    by_tool = lengths.get("dropped_by_tool") or {}
    if not by_tool:
        return ""
    shown = ", ".join(f"`{tool}` {n}" for tool, n in list(by_tool.items())[:_SHOWN])
    more = f" and {len(by_tool) - _SHOWN} more" if len(by_tool) > _SHOWN else ""
    return (
        f"\nRows dropped per called tool: {shown}{more}. A tool whose schema alone is longer than "
        "`max_length` loses every row: train it with a larger `sft.max_length` (assemble with "
        "`lengths.fit: raise_max_length` to keep its rows and get the length that fits them all).\n"
    )


def _quotas(quotas: dict[str, Any] | None) -> str:
    if not quotas:
        return ""
    under = quotas.get("under_quota", [])
    lines = [
        "\n## Quotas\n\n",
        f"{quotas.get('tools', 0)} tools planned; {len(under)} below their quota of accepted samples "
        f"({quotas.get('tier1_under', 0)} of them tier 1).\n",
    ]
    if under:
        lines.append(
            "\n| tool | tier | quota | accepted | top-up items tried | why |\n|---|---|---|---|---|---|\n"
        )
        lines += [
            f"| `{row['tool']}` | {row.get('tier')} | {row['quota']} | {row['accepted']} | "
            f"{row.get('top_up_tried', 0)} | {row['reason']} |\n"
            for row in under
        ]
    return "".join(lines)


def render_quality(manifest: dict[str, Any], report: Any) -> str:
    """Markdown for the hold-out, row lengths and quotas (empty parts are left out)."""
    return _holdout(report) + _lengths(manifest.get("lengths")) + _quotas(manifest.get("quotas"))
