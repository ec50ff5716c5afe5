"""Scoring predictions without running a model: BFCL's data or one of the project's dataset splits.

    card = score_bfcl(Path("data/"), Path("data/possible_answer"), Path("predictions.jsonl"), Rules.BFCL)
    card = score_split(Path("data/runs/x/dataset"), "test_unseen", Path("predictions.jsonl"), Rules.CALLFORGE)
    write_scorecard(card, Path("out"))

Every question gets a verdict under both rule sets; the chosen one (``rules``) is the headline and
``verdicts.jsonl``, the other is reported beside it. A question without a prediction is wrong,
even where no call was due (``error_type`` ``missing_prediction``), as is a reply that could not be decoded
(``ast_decoder:decoder_failed``) — except in an irrelevance category, where no call is the answer.
Outputs: ``verdicts.jsonl`` (``{"id", "category", "valid", "error_type"}`` per question),
``metrics.json`` (accuracy with a 95 % Wilson interval and n, overall and per category, for both rule
sets) and ``report.md``.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schemas import atomic
from schemas.errors import ConfigError
from trainer.evaluation.bfcl import load_entries, load_predictions
from trainer.evaluation.metrics import Rate, rate
from trainer.evaluation.scoring import Call, CallVerdict, ReferenceCall, Rules, check_calls


@dataclass(frozen=True)
class Question:
    """One thing to score: the category BFCL would judge it as, its functions and reference calls,
    and the groups it is reported in (language, tier, style …)."""

    id: str
    category: str
    functions: Mapping[str, Mapping[str, Any]]
    references: Sequence[ReferenceCall]
    groups: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Scorecard:
    rules: Rules
    source: dict[str, Any]
    questions: list[Question]
    verdicts: dict[Rules, list[CallVerdict]]
    missing: int = 0
    unknown_ids: int = 0
    skipped_categories: list[str] = field(default_factory=list)


def score(
    questions: Sequence[Question],
    predictions: Mapping[str, list[Call] | None],
    rules: Rules,
    source: dict[str, Any],
) -> Scorecard:
    """Verdicts for every question under both rule sets."""
    verdicts: dict[Rules, list[CallVerdict]] = {r: [] for r in Rules}
    missing = 0
    for question in questions:
        calls = predictions.get(question.id, [])
        if question.id not in predictions:
            missing += 1
        for rule_set in Rules:
            verdicts[rule_set].append(_verdict(question, calls, question.id in predictions, rule_set))
    known = {q.id for q in questions}
    unknown = sum(1 for i in predictions if i not in known)
    return Scorecard(rules, source, list(questions), verdicts, missing, unknown)


def _verdict(question: Question, calls: list[Call] | None, predicted: bool, rules: Rules) -> CallVerdict:
    abstention_expected = "irrelevance" in question.category
    if not predicted:  # not an abstention: an abstention is a line with empty calls
        return CallVerdict(False, "missing_prediction", "no prediction for this question")
    if calls is None:  # undecodable: no call was made, which is right only where none was due
        if abstention_expected:
            return CallVerdict(True)
        return CallVerdict(False, "ast_decoder:decoder_failed", "the reply could not be decoded")
    return check_calls(calls, question.references, question.functions, question.category, rules)


def score_bfcl(questions: Path, answers: Path | None, predictions: Path, rules: Rules) -> Scorecard:
    entries, skipped = load_entries(questions, answers)
    items = [Question(e.id, e.category, e.functions, e.references) for e in entries]
    card = score(items, load_predictions(predictions), rules, {"bfcl_questions": str(questions)})
    card.skipped_categories = skipped
    return card


_STYLE_CATEGORY = {
    "simple": "simple",
    "multiple": "multiple",
    "parallel": "parallel",
    "parallel_multiple": "parallel_multiple",
    "irrelevance": "irrelevance",
}


def score_split(dataset: Path, split: str, predictions: Path, rules: Rules) -> Scorecard:
    """Predictions against a split of an assembled dataset (references with their acceptable values)."""
    from trainer.evaluation.examples import load_examples

    items = []
    for example in load_examples(dataset, [split]):
        functions = {}
        for tool in example.tools:
            fn = tool.get("function", tool)
            functions[fn["name"]] = fn.get("parameters") or {}
        items.append(
            Question(
                example.id,
                _STYLE_CATEGORY[example.style],
                functions,
                example.references,
                {
                    "language": example.language,
                    "tier": "none" if example.tier is None else str(example.tier),
                    "style": example.style,
                },
            )
        )
    if not items:
        raise ConfigError(f"{dataset}: split {split!r} holds no examples")
    return score(items, load_predictions(predictions), rules, {"dataset": str(dataset), "split": split})


# ------------------------------------------------------------------------------------------ output


def _accuracy(verdicts: Sequence[CallVerdict]) -> Rate:
    return rate(sum(v.valid for v in verdicts), len(verdicts))


def _grouped(card: Scorecard, rules: Rules, key: str) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[CallVerdict]] = defaultdict(list)
    for question, verdict in zip(card.questions, card.verdicts[rules], strict=True):
        value = question.category if key == "category" else question.groups.get(key)
        if value is not None:
            groups[value].append(verdict)
    return {g: _accuracy(v).as_dict() for g, v in sorted(groups.items())}


def scorecard_metrics(card: Scorecard) -> dict[str, Any]:
    keys = ["category", *sorted({k for q in card.questions for k in q.groups})]
    per_rules = {}
    for rules in Rules:
        verdicts = card.verdicts[rules]
        by = {f"by_{k}": _grouped(card, rules, k) for k in keys}
        categories = by["by_category"]
        per_rules[rules.value] = {
            "accuracy": _accuracy(verdicts).as_dict(),
            # BFCL's leaderboard averages its categories without weighting them by size.
            "category_mean": sum(c["value"] for c in categories.values()) / len(categories),
            **by,
            "error_types": dict(Counter(v.error_type for v in verdicts if not v.valid).most_common()),
        }
    return {
        "rules": card.rules.value,
        **card.source,
        "questions": len(card.questions),
        "missing_predictions": card.missing,
        "predictions_for_unknown_ids": card.unknown_ids,
        "skipped_categories": card.skipped_categories,
        **per_rules[card.rules.value],
        "other_rules": {r: v for r, v in per_rules.items() if r != card.rules.value},
    }


def _cell(entry: Mapping[str, Any] | None) -> str:
    if not entry or not entry.get("n"):
        return "–"
    return f"{entry['value']:.1%} [{entry['ci_low']:.1%}–{entry['ci_high']:.1%}] n={entry['n']}"


def render_scorecard(metrics: Mapping[str, Any]) -> str:
    chosen = metrics["rules"]
    ((other, other_metrics),) = metrics["other_rules"].items()
    source = ", ".join(f"{k}: `{metrics[k]}`" for k in ("bfcl_questions", "dataset", "split") if k in metrics)
    lines = [
        "# Score report",
        "",
        f"{source} · {metrics['questions']} questions · rules: **{chosen}** (and {other} beside it)",
        "",
        f"Accuracy ({chosen}): {_cell(metrics['accuracy'])}; {other}: {_cell(other_metrics['accuracy'])}. "
        f"Mean over categories ({chosen}, BFCL's unweighted summary): {metrics['category_mean']:.1%}.",
        "",
        "Each figure: accuracy [95 % Wilson interval] n = questions.",
    ]
    if metrics["missing_predictions"]:
        lines += ["", f"**{metrics['missing_predictions']} questions had no prediction** and count as wrong."]
    if metrics["skipped_categories"]:
        lines += ["", f"Not scored (not single-turn Python AST): {', '.join(metrics['skipped_categories'])}."]
    for key in [k for k in metrics if k.startswith("by_")]:
        title = key[3:]
        lines += ["", f"## By {title}", "", f"| {title} | {chosen} | {other} |", "|---|---|---|"]
        for group, entry in metrics[key].items():
            lines.append(f"| {group} | {_cell(entry)} | {_cell(other_metrics[key].get(group))} |")
    errors = metrics["error_types"]
    if errors:
        lines += ["", f"## Why replies were wrong ({chosen})", "", "| error type | count |", "|---|---|"]
        lines += [f"| {e or '-'} | {n} |" for e, n in errors.items()]
    return "\n".join(lines) + "\n"


def write_scorecard(card: Scorecard, out_dir: Path) -> dict[str, Any]:
    """``verdicts.jsonl``, ``metrics.json`` and ``report.md`` into ``out_dir`` (replaced atomically)."""
    metrics = scorecard_metrics(card)
    lines = [
        json.dumps(
            {"id": q.id, "category": q.category, "valid": v.valid, "error_type": v.error_type},
            ensure_ascii=False,
        )
        for q, v in zip(card.questions, card.verdicts[card.rules], strict=True)
    ]
    with atomic.directory(Path(out_dir)) as tmp:
        atomic.write_text(tmp / "verdicts.jsonl", "\n".join(lines) + "\n")
        atomic.write_text(tmp / "metrics.json", json.dumps(metrics, indent=2, ensure_ascii=False) + "\n")
        atomic.write_text(tmp / "report.md", render_scorecard(metrics))
    return metrics
