"""Whether a rewrite of a trajectory's user turns still says what they say, and which rewrites to keep.

    keeps = keeps_of(trajectory, catalog)                   # what each user turn states
    candidate = check_rewrite(trajectory, turns, catalog)   # a teacher's rewritten turns, checked
    final, report = settle(candidates, verify)              # verify: the real trajectory verifier

The teacher side (the request, reading the reply) is ``generators.trajectory_paraphrase``; the multi-turn
stage (``flows.multi_turn_paraphrase``) puts the two together. A rewrite replaces its template only when
every check here passes (:func:`turn_problem`):

* every number the template turn writes in digits is still there, by value (``verifiers.grounding``'s
  ``QueryFacts``: "1,000" keeps 1000, "9 번" keeps "9번"'s 9, "100" does not keep 10);
* no number is written that the template turn does not write (an invented value);
* every text, flag or enum value of the turn's gold calls that the template states is still stated
  (``verifiers.grounding.grounded``, the semantic verifier's reading);
* every table or field name the template turn names (ELEM, MATL, PT1X) is still named (an English
  plural or -ed form counts: "nodes" names NODE, "named" NAME): a changed name is a changed referent
  ("the row whose MATL is 3" is not "the row whose SECT is 3"), which the state replay cannot see
  because the gold calls stay the same. Not seen: a name and a value that are
  both still there but attached differently ("the row whose LCNAME is 28" for "whose ELEMENT is 28").

and then the real trajectory verifier replays it (``settle``); only a trajectory that still verifies keeps
its new words. Every other outcome keeps the template, with the reason counted:
``paraphrase_value_changed`` / ``_dropped`` / ``_invented``, ``paraphrase_name_dropped``,
``paraphrase_turn_count``, ``paraphrase_bad_turn`` (empty, not a string or too long),
``paraphrase_context_shortened`` (a ``long_context`` trajectory's preamble condensed: the category is
the long context), ``paraphrase_unchanged``, ``paraphrase_duplicate`` (the same record as another kept
one), or ``paraphrase_rejected_by_verifier:<reason>``; the teacher side adds ``paraphrase_unparsable``
and the teacher's ``teacher_*`` codes. Records keep exactly the ``schemas.trajectories`` layout (same
id, only user contents change).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from schemas.catalog import Catalog
from schemas.trajectories import Trajectory
from verifiers.grounding import Leaf, QueryFacts, grounded, leaves
from verifiers.trajectory.verifier import TrajectoryVerdict, blueprint_key

MAX_TURN_CHARS = 4_000  # a rewrite longer than this (or 4x its template) is not a rewording
LONG_CONTEXT_KEPT = 0.6  # a long_context trajectory's first turn keeps at least this share of its length
_DIGITS = frozenset("-0123456789")


# ------------------------------------------------------------------------------------- what to keep


@dataclass(frozen=True)
class Keep:
    """What one template user turn states and its rewrite must state too."""

    numbers: tuple[float, ...]  # written in digits, one value per occurrence ("1,000" -> 1000)
    values: tuple[Leaf, ...]  # gold-call values the template states that are not numbers
    names: tuple[str, ...]  # table and field names the template names

    def shown(self) -> list[str]:
        """The list the prompt shows the teacher."""
        out = [_number_text(n) for n in self.numbers]
        out += [json.dumps(leaf.value, ensure_ascii=False) for leaf in self.values]
        return out + list(self.names)


def written_numbers(facts: QueryFacts) -> list[float]:
    """The numbers a text writes in digits, one per occurrence: the value read at each position.

    ``QueryFacts`` also lists "1,000"'s parts (as a possible list) and "50%"'s 0.5 at the same position,
    and number words ("first", "셋"); only the first reading of a digit occurrence is a stated value here.
    """
    seen: set[int] = set()
    out: list[float] = []
    for value, offset in facts.numbers:
        if offset in seen or facts.folded[offset : offset + 1] not in _DIGITS:
            continue
        seen.add(offset)
        out.append(value)
    return out


def known_names(trajectory: Trajectory, catalog: Catalog) -> set[str]:
    """Table keys (of the offered tools and the initial state) and field names the user may refer to."""
    names: set[str] = set(trajectory.initial_state)
    for rows in trajectory.initial_state.values():
        for row in rows.values():
            names.update(k for k in row if isinstance(k, str))
    for name in trajectory.tool_names():
        tool = catalog.get(name)
        if tool is not None and tool.binding.path.startswith("/db/"):
            names.add(tool.binding.path.split("/")[2])
    for turn in trajectory.turns:
        names |= call_names(turn.gold_calls, catalog)
    return {n for n in names if n and not n.isdigit()}


def call_names(gold_calls: Iterable[Any], catalog: Catalog) -> set[str]:
    """The table keys and field names of some gold calls (``/db/ELEM`` -> ELEM; MATL, NODE, ...)."""
    names: set[str] = set()
    for call in gold_calls:
        tool = catalog.get(call.name)
        if tool is None:
            continue
        if tool.binding.path.startswith("/db/"):
            names.add(tool.binding.path.split("/")[2])
        names.update(leaf.name for leaf in leaves(call.arguments, tool.parameters) if leaf.name)
    return names


def _names_in(text: str, names: Iterable[str]) -> list[str]:
    return sorted(n for n in names if _name_pattern(n, case=True).search(text))


def _name_pattern(name: str, *, case: bool, inflected: bool = False) -> re.Pattern[str]:
    # a name is a word of its own: "X" is not in "XY" or "AX", "MATL" is in "MATL을" (Korean particle);
    # ``inflected``: an English ending names it too ("nodes" for NODE, "named" for NAME)
    ending = "(?:e?s|e?d)?" if inflected else ""
    return re.compile(rf"(?<![A-Za-z0-9_]){re.escape(name)}{ending}(?![A-Za-z0-9_])", 0 if case else re.I)


def keep_of(text: str, gold_calls: Sequence[Any], catalog: Catalog, names: set[str]) -> Keep:
    """What the template turn ``text`` states (see the module docstring)."""
    facts = QueryFacts(text)
    values: list[Leaf] = []
    for call in gold_calls:
        tool = catalog.get(call.name)
        if tool is None:
            continue
        for leaf in leaves(call.arguments, tool.parameters):
            stated = isinstance(leaf.value, str | bool) and not leaf.is_key
            if stated and grounded(leaf, facts) and leaf.value not in (v.value for v in values):
                values.append(leaf)
    return Keep(tuple(written_numbers(facts)), tuple(values), tuple(_names_in(text, names)))


def turn_problem(template: str, keep: Keep, rewrite: str) -> tuple[str, str] | None:
    """(reason code, message) when ``rewrite`` loses or adds what ``template`` states; None when it keeps it."""
    facts = QueryFacts(rewrite)
    before = QueryFacts(template)
    dropped = [n for n in keep.numbers if not facts.has_number(n)]
    invented = [
        n for n in written_numbers(facts) if not (before.has_number(n) or before.has_number(-n))
    ]  # "minus 20" for -20 writes 20: its sign is a word
    if dropped and invented:
        return "paraphrase_value_changed", (
            f"{_listed(dropped)} became {_listed(invented)} (template: {_excerpt(template)})"
        )
    if dropped:
        return "paraphrase_value_dropped", f"{_listed(dropped)} no longer stated"
    if invented:
        return "paraphrase_value_invented", f"{_listed(invented)} not in the template turn"
    lost = [leaf for leaf in keep.values if not grounded(leaf, facts)]
    if lost:
        shown = ", ".join(json.dumps(leaf.value, ensure_ascii=False) for leaf in lost)
        return "paraphrase_value_dropped", f"{shown} no longer stated"
    names = [
        n for n in keep.names if not _name_pattern(n, case=len(n) <= 2, inflected=len(n) > 2).search(rewrite)
    ]
    if names:
        return "paraphrase_name_dropped", f"{', '.join(names)} no longer named (a changed referent)"
    return None


def _number_text(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def _listed(numbers: list[float]) -> str:
    return ", ".join(_number_text(n) for n in numbers)


def _excerpt(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ----------------------------------------------------------------------------------------- prompt


def keeps_of(trajectory: Trajectory, catalog: Catalog) -> list[Keep]:
    """What each user turn of ``trajectory`` states, in order (what the prompt shows and the check holds)."""
    names = known_names(trajectory, catalog)
    return [
        keep_of(text, turn.gold_calls, catalog, names)
        for text, turn in zip(trajectory.user_texts(), trajectory.turns, strict=True)
    ]


# ------------------------------------------------------------------------------------- candidates


@dataclass
class Candidate:
    """One trajectory after asking: ``rewritten`` when the checks passed, else ``reason`` says why not."""

    template: Trajectory
    rewritten: Trajectory | None = None
    reason: str | None = None
    message: str = ""
    failed_turn: int | None = None


def rebuild(template: Trajectory, turns: list[str]) -> Trajectory:
    """The template with its user messages' contents replaced, in order; nothing else changes."""
    record = template.to_record()
    texts = iter(turns)
    record["messages"] = [
        {**m, "content": next(texts)} if m["role"] == "user" else m for m in record["messages"]
    ]
    return Trajectory.model_validate(record)


def check_rewrite(template: Trajectory, turns: list[Any], catalog: Catalog) -> Candidate:
    """The acceptance check of one reply's turns (everything before the verifier)."""
    originals = template.user_texts()
    if len(turns) != len(originals):
        return Candidate(template, None, "paraphrase_turn_count", f"{len(turns)} for {len(originals)}")
    names = known_names(template, catalog)
    for index, (original, rewrite, turn) in enumerate(zip(originals, turns, template.turns, strict=True)):
        limit = min(MAX_TURN_CHARS, max(4 * len(original), 400))
        if not isinstance(rewrite, str) or not rewrite.strip() or len(rewrite) > limit:
            shown = f"{len(rewrite)} characters" if isinstance(rewrite, str) else type(rewrite).__name__
            return Candidate(template, None, "paraphrase_bad_turn", f"turn {index}: {shown}", index)
        if (
            template.category == "long_context"
            and index == 0
            and len(rewrite) < LONG_CONTEXT_KEPT * len(original)
        ):
            # the long preamble is what the category tests; a rewrite that condenses it is another category
            message = f"turn 0: {len(rewrite)} characters for the template's {len(original)}"
            return Candidate(template, None, "paraphrase_context_shortened", message, index)
        problem = turn_problem(original, keep_of(original, turn.gold_calls, catalog, names), rewrite)
        if problem:
            return Candidate(template, None, problem[0], f"turn {index}: {problem[1]}", index)
    if [t.strip() for t in turns] == [t.strip() for t in originals]:
        return Candidate(template, None, "paraphrase_unchanged", "the reply repeats the template turns")
    try:
        rewritten = rebuild(template, [t.strip() for t in turns])
    except ValidationError as exc:  # cannot happen for string contents; kept so a schema change cannot crash
        return Candidate(template, None, "paraphrase_bad_turn", str(exc.errors()[0]["msg"]))
    return Candidate(template, rewritten)


# ----------------------------------------------------------------------------------------- settle


@dataclass
class ParaphraseReport:
    """What paraphrasing did: counts for the stage's manifest and artifact."""

    total: int = 0
    paraphrased: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    paraphrased_ids: list[str] = field(default_factory=list)

    @property
    def kept_template(self) -> int:
        return self.total - self.paraphrased

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "paraphrased": self.paraphrased,
            "kept_template": self.kept_template,
            "reasons": dict(self.reasons.most_common()),
            "paraphrased_ids": list(self.paraphrased_ids),
        }


Verify = Callable[[list[Trajectory]], list[TrajectoryVerdict]]


def settle(candidates: Sequence[Candidate], verify: Verify) -> tuple[list[Trajectory], ParaphraseReport]:
    """The trajectories to keep, in order (a rewrite when it verifies, else its template), and the counts.

    ``verify`` is the real trajectory verifier over the rewritten trajectories (one verdict each, in
    order); a rewrite it rejects falls back to its template with ``paraphrase_rejected_by_verifier:<reason>``.
    A rewrite whose words make it the same record as another kept one (two variants of a blueprint
    reworded alike) falls back too (``paraphrase_duplicate``): the stage's final replay would otherwise
    reject it as a duplicate and the trajectory would be lost.
    """
    rewritten = [c.rewritten for c in candidates if c.rewritten is not None]
    verdicts = iter(verify(rewritten)) if rewritten else iter(())
    for candidate in candidates:
        if candidate.rewritten is None:
            continue
        verdict = next(verdicts)
        if not verdict.valid:
            candidate.reason = f"paraphrase_rejected_by_verifier:{verdict.reason}"
            candidate.message, candidate.failed_turn = verdict.message, verdict.failed_turn
            candidate.rewritten = None
    _fall_back_duplicates(candidates)
    report = ParaphraseReport(total=len(candidates))
    kept: list[Trajectory] = []
    for candidate in candidates:
        if candidate.rewritten is None:
            report.reasons[candidate.reason or "?"] += 1
            kept.append(candidate.template)
        else:
            report.paraphrased += 1
            report.paraphrased_ids.append(candidate.template.id)
            kept.append(candidate.rewritten)
    return kept, report


def _fall_back_duplicates(candidates: Sequence[Candidate]) -> None:
    """Rewrites that coincide with another kept record go back to their templates (templates are unique)."""
    changed = True
    while changed:  # a fallback only ever removes a rewrite, so this ends within len(candidates) rounds
        changed = False
        owner: set[str] = {blueprint_key(c.template) for c in candidates if c.rewritten is None}
        for candidate in candidates:  # templates claim their records first: they cannot fall back further
            if candidate.rewritten is None:
                continue
            key = blueprint_key(candidate.rewritten)
            if key in owner:
                candidate.reason = "paraphrase_duplicate"
                candidate.message = "the rewrite is the same record as another kept trajectory"
                candidate.rewritten = None
                changed = True
            owner.add(key)
