"""The per-turn checks of a trajectory that need no sandbox: values grounded across turns, outputs said.

Grounding across turns: every value of a call (``verifiers.grounding.leaves``, read by the semantic
verifier's ``call_values.grounding_issues`` with the spec's lexicon) must be stated by an earlier or the current user turn, a tool result the
assistant has seen, or the initial state. Row ids under ``Assign`` are exempt: choosing the id of a new
row is the caller's job, and a wrong id of an existing row changes state, which the replay catches.

Outputs said: each required output string occurs in what the assistant said in the turn (case-folded,
whitespace collapsed), or, for a number, the same number occurs there.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from schemas.models import Tool
from verifiers.call_values import grounding_issues
from verifiers.grounding import QueryFacts, as_number, leaves
from verifiers.lexicon import fold
from verifiers.spec_lexicon import lexicon_for


class TurnContext:
    """What the assistant has been told so far: user turns, tool results, the initial state."""

    def __init__(self, initial_state: Mapping[str, Any]) -> None:
        self._parts: list[str] = []
        if initial_state:
            self._parts.append(json.dumps(initial_state, ensure_ascii=False))
        self._facts: QueryFacts | None = None

    def add(self, text: str) -> None:
        self._parts.append(text)
        self._facts = None

    @property
    def facts(self) -> QueryFacts:
        if self._facts is None:
            self._facts = QueryFacts("\n".join(self._parts))
        return self._facts


def ungrounded(tool: Tool, arguments: Mapping[str, Any], context: TurnContext) -> str | None:
    """A message naming the first value of the call that nothing told the assistant; None when all are.

    The semantic verifier's reading (``verifiers.call_values.grounding_issues`` with the spec's
    lexicon): values stated the way engineers state them count ("fixed" = ``1111111``, "downward
    20 kN" = ``FZ: -20``, "1500 mm" for a field in m), and so do its refusals (a wrong sign or unit).
    """
    facts = context.facts
    call_leaves = leaves(arguments, tool.parameters)
    for problem in grounding_issues(0, tool.name, call_leaves, facts, lexicon_for(tool), 0.75):
        if _ROW_KEY.match(problem.get("pointer", "")):
            continue  # a row id: see the module docstring
        return f"{problem['message']} (at {problem.get('pointer') or '/'})"
    return None


_ROW_KEY = re.compile(r"^/Assign/[^/]+$")
_SPACES = re.compile(r"\s+")


def _folded(text: str) -> str:
    return _SPACES.sub(" ", fold(text)).strip()


def missing_outputs(outputs: list[str], said: str) -> list[str]:
    """The required outputs the assistant's words do not contain."""
    text = _folded(said)
    facts: QueryFacts | None = None
    missing = []
    for output in outputs:
        if _folded(output) in text:
            continue
        number = as_number(output)
        if number is not None:
            facts = facts or QueryFacts(said)
            if facts.has_number(number):
                continue
        missing.append(output)
    return missing
