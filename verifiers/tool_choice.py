"""Does the called tool do what the query's verb asks, to the thing the query names?

The embedding ranking alone mistakes tools that share boilerplate ("(Node/Element)" ends the node and
the element descriptions alike) and reads verbs weakly ("move node 3" came out closest to the delete
tool). This module adds the structure people use to pick a tool:

* **verb fit**: the query's action classes (``verifiers.intent.actions``: add/create, change/move,
  remove, show/list, open, save vs save-as, run …, English and Korean) against the tool's own action
  (its summary's leading verb, else its HTTP method): +1 agrees, -1 disagrees, 0 unknown;
* **object fit**: how many of the words that distinguish the tool — its summary and description
  without the words most of the catalog shares, its parenthesised group tags dropped, plus the
  lexicon's ``objects`` — the query uses (Korean through the glossary).

``choose(called, rivals)`` returns ``("wrong", rival)`` when a rival clearly fits better (the called
tool's verb disagrees and the rival's agrees on at least as much object; or the rival fits the verb at
least as well and names strictly more of the query's objects), ``("right", None)`` when the called tool
fits the verb and no rival names more objects, else ``("unsure", None)`` — then the embedding (or
BM25) ranking decides among the rivals whose verb fits at least as well.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from schemas.models import Tool
from verifiers.grounding import QueryFacts
from verifiers.intent import _EN_ACTIONS, tool_action
from verifiers.lexicon import english_terms, fold, stem
from verifiers.spec_lexicon import ToolLexicon

# Parenthesised group tags ("table (Node/Element)", "(Static Loads)"): shared by whole families.
_TAG = re.compile(r"\((?:[A-Z][\w-]*(?: [A-Z][\w-]*){0,3})(?:/[A-Z][\w-]*(?: [A-Z][\w-]*){0,3})*\)")
_BOILERPLATE_SHARE = 0.2
_ACTION_TERMS = frozenset(stem(w) for phrases in _EN_ACTIONS.values() for p in phrases for w in p.split())
_PLAIN = frozenset(["record", "all", "gen", "nx", "one", "given", "path", "argument", "field", "fields"])


@dataclass(frozen=True)
class Fit:
    verb: int  # +1 agrees with the query's verbs, -1 disagrees, 0 unknown (no verb on one side)
    objects: int  # distinguishing words of the tool the query uses


class ObjectWords:
    """Distinguishing words per tool of one catalog (computed once per catalog)."""

    def __init__(self, tools: Iterable[Tool]) -> None:
        tools = list(tools)
        self._texts = {t.name: self._text(t) for t in tools}
        df: Counter[str] = Counter()
        for text in self._texts.values():
            df.update(set(english_terms(text)))
        limit = max(2, int(len(tools) * _BOILERPLATE_SHARE))
        self._common = frozenset(term for term, n in df.items() if n > limit)
        self._cache: dict[str, frozenset[str]] = {}

    @staticmethod
    def _text(tool: Tool) -> str:
        return _TAG.sub(" ", tool.description or "")

    def terms(self, tool: Tool) -> frozenset[str]:
        found = self._cache.get(tool.name)
        if found is None:
            text = self._texts.get(tool.name, self._text(tool))
            found = frozenset(
                t
                for t in english_terms(text)
                if t not in self._common and t not in _ACTION_TERMS and t not in _PLAIN
            )
            self._cache[tool.name] = found
        return found


def fit(
    tool: Tool, words: ObjectWords, lexicon: ToolLexicon, facts: QueryFacts, wanted: frozenset[str]
) -> Fit:
    """How ``tool`` fits a query whose action classes are ``wanted``."""
    action = tool_action(tool)
    verb = 0 if not wanted or action is None else (1 if action in wanted else -1)
    terms = set(words.terms(tool))
    hangul = 0
    for word in lexicon.objects:
        folded = fold(word)
        if "\uac00" <= folded[0] <= "\ud7a3":
            hangul += folded in facts.folded
        else:
            terms.update(english_terms(folded))
    return Fit(verb, len(terms & facts.terms) + hangul)


def choose(called: Fit, rivals: Mapping[str, Fit]) -> tuple[str, str | None]:
    """("wrong", rival) / ("right", None) / ("unsure", None): see the module docstring."""
    best: tuple[int, int, str] | None = None
    for name, rival in rivals.items():
        if called.verb == -1 and rival.verb == 1 and rival.objects >= called.objects:
            key = (2, rival.objects, name)
        elif rival.verb >= called.verb and rival.objects > called.objects:
            key = (1, rival.objects, name)
        else:
            continue
        best = key if best is None or key > best else best
    if best is not None:
        return "wrong", best[2]
    if called.verb == 1 and all(r.objects <= called.objects for r in rivals.values()):
        return "right", None
    if called.verb == 0 and all(r.objects < called.objects for r in rivals.values()):
        return "right", None  # no verb to read, but it alone names what the query is about
    return "unsure", None
