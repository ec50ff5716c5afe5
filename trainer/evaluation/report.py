"""The evaluation report: ``report.md`` with tables, and two PNG plots.

* ``seen_vs_unseen.png`` — AST match per model on ``test_seen`` beside ``test_unseen``;
* ``per_tier.png`` — AST match per model and tier, one panel per split.

Every figure in the tables carries its 95 % interval and the number of examples behind it, so a
difference between two models can be read for what it is worth.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from schemas import atomic

HEADLINE = (
    ("ast_match", "AST match (callforge rules)"),
    ("ast_match_bfcl", "AST match (BFCL rules)"),
    ("exact_match", "exact match"),
    ("call_rate", "call rate (call due)"),
    ("call_rate_when_irrelevant", "call rate (no call due)"),
    ("relevance_balanced", "relevance, balanced (chance 50%)"),
    ("tool_name_accuracy", "tool name"),
    ("tool_choice_chance", "tool name by chance"),
    ("argument_key_f1", "arg key F1"),
    ("argument_value_accuracy", "arg values"),
    ("required_coverage", "required args"),
    ("schema_validity", "schema-valid calls"),
    ("hallucination_rate", "hallucination"),
    ("parse_validity", "parseable"),
    ("irrelevance_accuracy", "irrelevance"),
    ("hit_token_budget", "hit the token budget"),
    ("execution_success", "executes"),
)


def _cell(rate: dict[str, Any] | None) -> str:
    if not rate or not rate.get("n"):
        return "–"
    return f"{rate['value']:.1%} [{rate['ci_low']:.0%}–{rate['ci_high']:.0%}] n={rate['n']}"


def _breakdown(models: dict[str, Any], split: str, key: str, title: str) -> list[str]:
    """AST match per group (tier or style) and model; irrelevance is scored by irrelevance accuracy."""
    groups = sorted({g for m in models.values() for g in m["splits"].get(split, {}).get(key, {})})
    if not groups:
        return []
    lines = ["", f"AST match by {title}:", "", f"| {title} | " + " | ".join(models) + " |"]
    lines.append("|---|" + "---|" * len(models))
    for group in groups:
        metric = "irrelevance_accuracy" if group == "irrelevance" else "ast_match"
        cells = [
            _cell(m["splits"].get(split, {}).get(key, {}).get(group, {}).get(metric)) for m in models.values()
        ]
        lines.append(f"| {group} | " + " | ".join(cells) + " |")
    return lines


def render_markdown(metrics: dict[str, Any]) -> str:
    models = metrics["models"]
    lines = [
        "# Evaluation report",
        "",
        f"Dataset: `{metrics['dataset']}` · splits: {', '.join(metrics['splits']) or '–'}"
        + (f" · multi-turn sets: {', '.join(metrics['multi_turn'])}" if metrics.get("multi_turn") else ""),
        "",
        "Rates with 95 % Wilson intervals and the number of examples (or calls / argument keys) behind",
        "them. *AST match* is shown under both rule sets (`callforge` and BFCL's; see the README);",
        "*exact match* compares the whole call set, order-free. A reply with no readable call where one",
        "was due is wrong and not parseable; *call rate* and the chance rows show what a model that",
        "always (or never) calls, or picks a tool at random, would score.",
        "",
    ]
    if any(label.endswith("+constrained") for label in models):
        lines += [
            "`+constrained` rows are the same model with JSON-schema-constrained decoding: every reply is",
            "forced into schema-valid calls of offered tools, so they always call (irrelevance is 0 by",
            "construction) and the gap to the plain row is what the model gets wrong in format alone.",
            "",
        ]
    if not metrics["splits"]:
        lines += ["No single-turn split was evaluated.", ""]
    for split in metrics["splits"]:
        lines += [
            f"## {split}",
            "",
            "| metric | " + " | ".join(models) + " |",
            "|---|" + "---|" * len(models),
        ]
        for key, title in HEADLINE:
            cells = [_cell(models[m]["splits"].get(split, {}).get("overall", {}).get(key)) for m in models]
            if all(c == "–" for c in cells):
                continue
            lines.append(f"| {title} | " + " | ".join(cells) + " |")
        apart = [models[m]["splits"].get(split, {}).get("seen_tool_examples") for m in models]
        if any(apart):  # test_unseen examples that also call a seen tool: not in the figures above
            cells = [_cell((a or {}).get("overall", {}).get("ast_match")) for a in apart]
            lines.append(
                "| AST match, examples also calling a seen tool (scored apart) | " + " | ".join(cells) + " |"
            )
        lines += _breakdown(models, split, "by_tier", "tier")
        lines += _breakdown(models, split, "by_style", "style")
        lines += _breakdown(models, split, "by_language", "language")
        lines += _breakdown(models, split, "by_arguments", "arguments")
        lines.append("")
    lines += multi_turn_section(metrics)
    if not metrics["splits"]:
        return "\n".join(lines)
    lines += [
        "## Throughput and latency",
        "",
        "| model | examples/s | latency p50 | latency p95 |",
        "|---|---|---|---|",
    ]
    for m, v in models.items():
        timed = [s.get("latency", {}) for s in v["splits"].values()]
        cells = []
        for key in ("p50_s", "p95_s"):
            values = [t[key] for t in timed if t.get(key) is not None]
            cells.append(f"{max(values):.3f} s" if values else "–")
        lines.append(f"| {m} | {v['examples_per_second']:.2f} | {cells[0]} | {cells[1]} |")
    lines += ["", "Latency is per example: a batch's time divided by its size (the worst split shown)."]
    lines += ["", "![seen vs unseen](seen_vs_unseen.png)", "", "![per tier](per_tier.png)", ""]
    return "\n".join(lines)


MULTI_TURN_CATEGORIES = ("base", "miss_param", "miss_func", "long_context")


def _count(value: dict[str, Any] | None) -> str:
    return ", ".join(f"{k} {v}" for k, v in (value or {}).items()) or "–"


def multi_turn_section(metrics: dict[str, Any]) -> list[str]:
    """Multi-turn accuracy per category with n, their mean, turn accuracy, pass^k, first failing turn,
    reasons and errors, per set and model (``trainer.evaluation.multi_turn_metrics``)."""
    sets = metrics.get("multi_turn") or {}
    if not sets:
        return []
    models = {label: m.get("multi_turn", {}) for label, m in metrics["models"].items()}
    lines = [
        "## Multi-turn (rollout, turn by turn)",
        "",
        "Each trajectory is rolled out in a seeded, strict sandbox session: the model answers every user",
        "turn with its own earlier replies and the sandbox's real tool results in context. A turn passes when",
        "the session's state equals the gold replay's after it, the gold's read results are among the",
        "model's, every required output is said and no tool was called that was not offered; an entry",
        "passes only if every turn does (BFCL's multi-turn rule). *mean* is the unweighted mean of the",
        "categories (BFCL's overall figure). pass^k: the chance that k surface variants of one blueprint",
        "all pass. Errors (a failed request, the sandbox) are failures, counted apart.",
        "",
    ]
    for name, info in sets.items():
        lines += [f"### {name} (`{info.get('file', '')}`)", ""]
        if info.get("malformed"):
            lines += [
                f"Malformed lines, not scored: {len(info['malformed'])} (first: {info['malformed'][0]})",
                "",
            ]
        lines += ["| metric | " + " | ".join(models) + " |", "|---|" + "---|" * len(models)]
        figures = {label: m.get(name, {}) for label, m in models.items()}
        for category in MULTI_TURN_CATEGORIES:
            cells = [_cell(f.get("by_category", {}).get(category)) for f in figures.values()]
            if any(c != "–" for c in cells):
                lines.append(f"| {category} | " + " | ".join(cells) + " |")
        lines.append(
            "| **mean of categories** | "
            + " | ".join(
                f"{f['category_mean']['value']:.1%}" if f.get("category_mean") else "–"
                for f in figures.values()
            )
            + " |"
        )
        lines.append(
            "| all entries | " + " | ".join(_cell(f.get("accuracy")) for f in figures.values()) + " |"
        )
        for language in sorted({g for f in figures.values() for g in f.get("by_language", {})}):
            cells = [_cell(f.get("by_language", {}).get(language)) for f in figures.values()]
            lines.append(f"| language {language} | " + " | ".join(cells) + " |")
        lines.append(
            "| turn accuracy | " + " | ".join(_cell(f.get("turn_accuracy")) for f in figures.values()) + " |"
        )
        ks = sorted({int(k) for f in figures.values() for k in f.get("pass_k", {})})
        for k in ks:
            cells = [
                f"{p['value']:.1%} ({p['groups']} groups)" if (p := f.get("pass_k", {}).get(str(k))) else "–"
                for f in figures.values()
            ]
            lines.append(f"| pass^{k} | " + " | ".join(cells) + " |")
        rows = (
            ("first failing turn", "first_failed_turn"),
            ("failure reasons", "reasons"),
            ("errors (not the model's)", "errors"),
        )
        for title, key in rows:
            lines.append(f"| {title} | " + " | ".join(_count(f.get(key)) for f in figures.values()) + " |")
        lines.append(
            "| entries/s | "
            + " | ".join(f"{f.get('entries_per_second', 0.0):.2f}" for f in figures.values())
            + " |"
        )
        lines.append("")
    return lines


def _rate_at(models: dict[str, Any], model: str, split: str, *path: str) -> dict[str, Any]:
    node: Any = models[model]["splits"].get(split, {})
    for key in path:
        node = node.get(key, {}) if isinstance(node, dict) else {}
    return node if isinstance(node, dict) else {}


def _bars(ax: Any, x: Any, rates: list[dict[str, Any]], width: float, label: str) -> None:
    """Bars with their 95 % intervals as error bars and n written above each."""
    values = [float(r.get("value", 0.0)) for r in rates]
    low = [v - float(r.get("ci_low", v)) for v, r in zip(values, rates, strict=True)]
    high = [float(r.get("ci_high", v)) - v for v, r in zip(values, rates, strict=True)]
    ax.bar(x, values, width, label=label, yerr=[low, high], capsize=3)
    for xi, v, r in zip(x, values, rates, strict=True):
        ax.text(xi, min(v + 0.03, 0.97), f"n={r.get('n', 0)}", ha="center", fontsize=7)


def plot(metrics: dict[str, Any], out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and CI
    import matplotlib.pyplot as plt
    import numpy as np

    models = list(metrics["models"])
    splits = metrics["splits"]
    width = 0.8 / max(len(models), 1)
    paths = []

    fig, ax = plt.subplots(figsize=(6, 4))
    x = np.arange(len(splits))
    for i, model in enumerate(models):
        rates = [_rate_at(metrics["models"], model, s, "overall", "ast_match") for s in splits]
        _bars(ax, x + i * width, rates, width, model)
    ax.set_xticks(x + width * (len(models) - 1) / 2, splits)
    ax.set_ylim(0, 1)
    ax.set_ylabel("AST match")
    ax.set_title("Seen vs unseen tools")
    ax.legend()
    fig.tight_layout()
    paths.append(out_dir / "seen_vs_unseen.png")
    fig.savefig(paths[-1], dpi=100)
    plt.close(fig)

    fig, axes = plt.subplots(1, len(splits), figsize=(5 * len(splits), 4), squeeze=False)
    for ax, split in zip(axes[0], splits, strict=True):
        tiers = sorted(
            {t for m in models for t in metrics["models"][m]["splits"].get(split, {}).get("by_tier", {})}
        )
        x = np.arange(len(tiers))
        for i, model in enumerate(models):
            rates = [_rate_at(metrics["models"], model, split, "by_tier", t, "ast_match") for t in tiers]
            _bars(ax, x + i * width, rates, width, model)
        ax.set_xticks(x + width * (len(models) - 1) / 2, [f"tier {t}" for t in tiers])
        ax.set_ylim(0, 1)
        ax.set_title(split)
    axes[0][0].set_ylabel("AST match")
    axes[0][-1].legend()
    fig.tight_layout()
    paths.append(out_dir / "per_tier.png")
    fig.savefig(paths[-1], dpi=100)
    plt.close(fig)
    return paths


def write_report(metrics: dict[str, Any], out_dir: Path) -> Path:
    if metrics["splits"]:  # a multi-turn-only evaluation has no single-turn figure to plot
        plot(metrics, out_dir)
    return atomic.write_text(out_dir / "report.md", render_markdown(metrics) + "\n")
