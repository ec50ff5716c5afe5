"""A teacher rewrites the user turns of generated trajectories; a rewrite is kept only when it still verifies.

    candidates = await paraphrase_all(trajectories, teacher, catalog)
    final, report = settle(candidates, verify)        # verify: the real trajectory verifier

The offline generator (``generators.trajectories``) writes user turns from templates ("Please create
Cutting Line (CUTL) records: CUTL 1 (NAME "Footing-59", PT1X 65)"). People do not type like that, so
one teacher request per trajectory asks for every user turn rewritten the way a person would write it,
in the trajectory's language, keeping what the turn states. Each rewrite is checked here before it
can replace the template (:func:`turn_problem`):

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

A rewrite that passes is then replayed by the real trajectory verifier (``settle``); only a trajectory
that still verifies keeps its new words. Every other outcome keeps the template trajectory, with the
reason counted: ``paraphrase_value_changed`` / ``_dropped`` / ``_invented``, ``paraphrase_name_dropped``,
``paraphrase_turn_count``, ``paraphrase_unparsable``, ``paraphrase_bad_turn`` (empty, not a string or
too long), ``paraphrase_context_shortened`` (a ``long_context`` trajectory's preamble condensed: the
category is the long context), ``paraphrase_unchanged``, ``paraphrase_duplicate`` (the same record as another kept one), the teacher's ``teacher_*`` codes, or
``paraphrase_rejected_by_verifier:<reason>``. A teacher failure never loses a trajectory and is never
a verdict on it. Records keep exactly the ``schemas.trajectories`` layout (same id, only user contents
change); provenance is the caller's to report (the multi-turn stage's manifest).

Caching: replies are asked for with ``store=False`` and kept in the teacher's cache only when they pass
the checks here (rejected otherwise); the verifier's verdict on a kept reply is a function of the
reply, so a rerun served it from the cache decides the same way.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from generators.parsing import JSONExtractionError, parse_json_object
from generators.teacher import Teacher
from generators.teacher_errors import TeacherError
from schemas.catalog import Catalog
from schemas.trajectories import Trajectory
from verifiers.grounding import Leaf, QueryFacts, grounded, leaves
from verifiers.trajectory.verifier import TrajectoryVerdict, blueprint_key

PROMPT_VERSION = "trajectory-paraphrase-v1"
RESPONSE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"turns": {"type": "array", "items": {"type": "string"}}},
    "required": ["turns"],
}
# A reply holds 2-5 short turns: 50,000 characters and 8 levels leave room for a verbose teacher and
# keep a hostile reply's parse cost to milliseconds (generators.parsing enforces both).
MAX_REPLY_CHARS = 50_000
MAX_REPLY_DEPTH = 8
MAX_TURN_CHARS = 4_000  # a rewrite longer than this (or 4x its template) is not a rewording
LONG_CONTEXT_KEPT = 0.6  # a long_context trajectory's first turn keeps at least this share of its length
BATCH = 256  # trajectories in flight at once; the teacher's own semaphore bounds the requests
_DIGITS = frozenset("-0123456789")
_LANGUAGE_NAMES = {"en": "English", "ko": "Korean"}


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


def user_turns(trajectory: Trajectory) -> list[str]:
    return [m["content"] for m in trajectory.messages if m["role"] == "user"]


def build_messages(trajectory: Trajectory, keeps: list[Keep]) -> list[dict[str, Any]]:
    """The paraphrase request: the user turns, what each must keep, the answer's shape."""
    language = _LANGUAGE_NAMES[trajectory.language]
    turns = [
        {"turn": i + 1, "text": text, "keep": keep.shown()}
        for i, (text, keep) in enumerate(zip(user_turns(trajectory), keeps, strict=True))
    ]
    system = (
        "You rewrite the user messages of a conversation between a structural engineer and an assistant "
        "that edits a GEN NX model through its API. Make each message read the way a person types it: "
        "plain, varied, natural. Change only the wording."
    )
    user = "\n".join(
        [
            f"Language: {trajectory.language} (write every turn in {language})",
            f"Rewrite each of these {len(turns)} user turns. For each turn:",
            '- keep every item under "keep": numbers with the same value (3.5 stays 3.5, never 35), '
            "quoted text exactly as written, table and field names as written (ELEM, MATL);",
            "- write no number the turn does not write, and ask for nothing it does not ask;",
            "- keep the same rows and objects: do not change which table, field or row is meant;",
            "- keep background the user gives (reworded, not shortened).",
            "<turns>",
            json.dumps(turns, ensure_ascii=False, indent=1),
            "</turns>",
            f'Answer with JSON only: {{"turns": [exactly {len(turns)} strings, in order]}}',
        ]
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def read_turns(text: str, expected: int) -> tuple[list[str] | None, str, str]:
    """(turns, reason, message): the reply's ``turns`` list, or None with why it cannot be used."""
    try:
        reply = parse_json_object(
            text, prefer=("turns",), max_chars=MAX_REPLY_CHARS, max_depth=MAX_REPLY_DEPTH
        )
    except JSONExtractionError as exc:
        return None, "paraphrase_unparsable", f"{exc.code}: {exc}"
    turns = reply.get("turns")
    if not isinstance(turns, list):
        return None, "paraphrase_unparsable", "the reply has no 'turns' list"
    if len(turns) != expected:
        return None, "paraphrase_turn_count", f"{len(turns)} turns for {expected} user turns"
    return turns, "", ""


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
    originals = user_turns(template)
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


def _seed(trajectory: Trajectory) -> int:
    return int.from_bytes(hashlib.sha256(trajectory.id.encode()).digest()[:4], "big")


async def paraphrase(
    trajectory: Trajectory, teacher: Teacher, catalog: Catalog, *, temperature: float = 0.7
) -> Candidate:
    """Ask the teacher for ``trajectory``'s user turns rewritten and check the answer; raises nothing."""
    try:
        names = known_names(trajectory, catalog)
        keeps = [
            keep_of(text, turn.gold_calls, catalog, names)
            for text, turn in zip(user_turns(trajectory), trajectory.turns, strict=True)
        ]
        messages = build_messages(trajectory, keeps)
        try:
            reply = await teacher.complete(
                messages,
                json_schema=RESPONSE_SCHEMA,
                temperature=temperature,
                seed=_seed(trajectory),
                store=False,
            )
        except TeacherError as exc:  # no answer: the template stays, nothing is judged
            return Candidate(trajectory, None, exc.code, exc.message)
        turns, reason, message = read_turns(reply.text, len(keeps))
        candidate = (
            check_rewrite(trajectory, turns, catalog)
            if turns is not None
            else Candidate(trajectory, None, reason, message)
        )
        if candidate.rewritten is not None:
            teacher.keep(reply)
        else:
            teacher.reject(reply, reason=candidate.reason or "?", message=candidate.message)
        return candidate
    except Exception as exc:  # a bug here must not lose the trajectory either
        return Candidate(trajectory, None, "paraphrase_error", f"{type(exc).__name__}: {exc}")


async def paraphrase_all(
    trajectories: Sequence[Trajectory], teacher: Teacher, catalog: Catalog, *, temperature: float = 0.7
) -> list[Candidate]:
    """One candidate per trajectory, in order (requests run concurrently, ``BATCH`` at a time)."""
    out: list[Candidate] = []
    for start in range(0, len(trajectories), BATCH):
        batch = trajectories[start : start + BATCH]
        out += await asyncio.gather(
            *(paraphrase(t, teacher, catalog, temperature=temperature) for t in batch)
        )
    return out


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
