"""Ask a teacher to rewrite the user turns of a generated trajectory the way a person would write them.

    answer = await ask_rewrite(trajectory, teacher, keep)   # keep: per user turn, what it must keep
    answer.turns                                            # the rewritten turns, or None (answer.reason)

The offline generator (``generators.trajectories``) writes user turns from templates ("Please create
Cutting Line (CUTL) records: CUTL 1 (NAME "Footing-59", PT1X 65)"). People do not type like that, so
one teacher request per trajectory asks for every user turn rewritten in the trajectory's language,
showing for each turn the numbers, values and names it must keep. This module only asks and reads the
reply (bounded by ``generators.parsing``): whether a rewrite may replace its template is decided by
``verifiers.trajectory.paraphrase`` and the trajectory verifier, and ``flows.multi_turn_paraphrase``
puts the two together. Reasons from here: the teacher's ``teacher_*`` codes (no answer came: never a
verdict on the trajectory), ``paraphrase_unparsable`` and ``paraphrase_turn_count``.

Caching: replies are asked for with ``store=False``; the caller keeps one in the teacher's cache only
when it passes the checks (and rejects it otherwise), so a rerun served from the cache decides the same.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from generators.parsing import JSONExtractionError, parse_json_object
from generators.teacher import Teacher, TeacherReply
from generators.teacher_errors import TeacherError
from schemas.trajectories import Trajectory

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
_LANGUAGE_NAMES = {"en": "English", "ko": "Korean"}


def build_messages(trajectory: Trajectory, keep: Sequence[Sequence[str]]) -> list[dict[str, Any]]:
    """The paraphrase request: the user turns, what each must keep, the answer's shape."""
    language = _LANGUAGE_NAMES[trajectory.language]
    turns = [
        {"turn": i + 1, "text": text, "keep": list(kept)}
        for i, (text, kept) in enumerate(zip(trajectory.user_texts(), keep, strict=True))
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


def _seed(trajectory: Trajectory) -> int:
    return int.from_bytes(hashlib.sha256(trajectory.id.encode()).digest()[:4], "big")


@dataclass
class Answer:
    """One teacher answer: the reply (for the caller to keep or reject in the cache) and its turns, or
    ``reason`` and ``message`` saying why there are none (``reply`` is None when no answer came)."""

    reply: TeacherReply | None
    turns: list[Any] | None
    reason: str | None = None
    message: str = ""


async def ask_rewrite(
    trajectory: Trajectory, teacher: Teacher, keep: Sequence[Sequence[str]], *, temperature: float = 0.7
) -> Answer:
    """Ask for ``trajectory``'s user turns rewritten (``keep``: per turn, what it must keep); raises
    nothing the teacher raises (``TeacherError`` becomes an ``Answer`` with its code)."""
    messages = build_messages(trajectory, keep)
    try:
        reply = await teacher.complete(
            messages,
            json_schema=RESPONSE_SCHEMA,
            temperature=temperature,
            seed=_seed(trajectory),
            store=False,
        )
    except TeacherError as exc:  # no answer: the template stays, nothing is judged
        return Answer(None, None, exc.code, exc.message)
    turns, reason, message = read_turns(reply.text, len(keep))
    return Answer(reply, turns, reason or None, message)
