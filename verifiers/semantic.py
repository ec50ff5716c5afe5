"""The semantic verifier: do the calls mean what the query asks? (name ``semantic``, requires ``format``)

Two modes, chosen by the ``mode`` option:

* ``embedded`` (default; no network): four checks, each abstaining rather than guessing —
  ``ungrounded_value`` an argument value the query does not state (``verifiers.grounding``);
  ``swapped_values`` two arguments' values exchanged (``verifiers.alignment``);
  ``wrong_tool_choice`` another offered tool matches the query clearly better than the one called
  (``verifiers.similarity``: a local sentence-embedding model for English, BM25 + a Korean glossary
  otherwise); ``call_count_mismatch`` the query asks for more calls than it got (its steps "first …
  then …", its "(1) … (2) …" enumerators, "N separate times", or listed items some of which no call
  uses); ``unused_query_value`` the query states values (quoted strings, numbers) no argument uses.
Before those, values are read the way people state them (``verifiers.implication``: bookkeeping ids,
ranges, unit conversions, direction signs, codes implied by words through the spec's lexicon,
``verifiers.spec_lexicon``), and three more checks run: ``question_answered_with_call`` a question
that wants an explanation got a call (``verifiers.intent``); ``value_not_wanted`` a value the query
says is already set or not wanted; ``incomplete_range`` a stated range ("nodes 1 through 4") only
partly used. Tool choice reads verbs and objects first (``verifiers.tool_choice``) and asks the
ranking only when those do not settle it.

* ``judge``: a teacher model from ``ctx.resources["teacher"]`` answers ``{"passed", "reason"}``
  (``verifiers.judge``); unparseable answers are undecided (``judge_unparseable``).
* ``both``: the embedded checks first, then the judge on the samples they passed.

A failing embedded verdict's ``details["issues"]`` lists every problem found (code, call_index, pointer,
message); the verdict's code is the first in the order above.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from schemas.errors import ConfigError
from schemas.models import Sample, Tool, Verdict
from verifiers.alignment import (
    call_contexts,
    distinct_requests,
    requested_calls,
    swapped_pairs,
    unanswered_items,
    unused_values,
)
from verifiers.arguments import pointer
from verifiers.base import TEACHER_KEY, VerifierOptions, VerifyContext
from verifiers.call_values import grounding_issues, issue, range_issues
from verifiers.grounding import Leaf, QueryFacts, leaves
from verifiers.intent import actions, explanation_question, request_clauses, wording
from verifiers.judge import judge
from verifiers.lexicon import english_terms
from verifiers.similarity import Precision, rank_scores, resolve_mode, resolve_precision, tool_text
from verifiers.spec_lexicon import EMPTY, ToolLexicon, lexicon_for, load_lexicon
from verifiers.tool_choice import Fit, ObjectWords, choose, fit

NAME = "semantic"
CODES = (
    "question_answered_with_call",
    "value_not_wanted",
    "ungrounded_value",
    "incomplete_range",
    "swapped_values",
    "wrong_tool_choice",
    "call_count_mismatch",
    "unused_query_value",
)


@dataclass(frozen=True)
class _Choice:
    """One tool-ranking request: a text, the calls judged on it, tools that are not rivals there."""

    text: str
    calls: tuple[int, ...]
    not_rivals: frozenset[str]


class SemanticVerifier:
    """Meaning-level checks (cost 50): runs after ``format`` on samples whose calls are well-formed."""

    name = NAME
    requires: tuple[str, ...] = ("format",)
    cost = 50

    class Options(VerifierOptions):
        mode: Literal["embedded", "judge", "both"] = "embedded"
        """embedded: local checks, no network; judge: a teacher model decides; both: local, then judge."""
        similarity: Literal["auto", "embedding", "lexical"] = "auto"
        """Tool ranking: auto uses the local embedding model when installed (English queries)."""
        grounding: bool = True
        swaps: bool = True
        tool_choice: bool = True
        call_count: bool = True
        """Reject samples with fewer calls than the query's steps, enumerators or listed items ask for."""
        unused_values_min: int = Field(default=2, ge=0)
        """Reject when the query states this many quoted strings / numbers no argument uses (0: off)."""
        string_coverage: float = Field(default=0.75, gt=0.0, le=1.0)
        """Share of a multi-word string value's words that must occur in the query."""
        embedding_margin: float = Field(default=0.05, ge=0.0)
        """Cosine by which another tool must beat the called one to call the choice wrong."""
        embedding_precision: Precision = "auto"
        """Embedding arithmetic: auto is bfloat16 on CPUs that do it natively, else float32
        (``verifiers.similarity``); float32 gives the same scores on every machine."""
        lexical_margin: float = Field(default=0.25, ge=0.0)
        """Same, on BM25 scores scaled so the best offered tool scores 1."""
        swap_reach: int = Field(default=2, ge=1)
        """Tokens between a label and the other argument's value that still count as 'next to'."""
        concurrency: int = Field(default=8, ge=1)
        """Judge requests in flight at once."""
        judge_seed: int | None = None
        lexicons: list[Path] = Field(default_factory=list)
        """Extra lexicon files (``specs/gennx/lexicon.yaml`` shows the format); the one beside each
        tool's spec (``lexicon.yaml`` or ``<spec stem>.lexicon.yaml``) is always read."""
        tool_verbs: bool = True
        """Settle tool choice by the query's verbs and objects first (``verifiers.tool_choice``);
        False leaves it to the ranking alone."""
        questions: bool = True
        """Reject a call made for a question that wants an explanation ("what does … mean", "how do I")."""

        @field_validator("lexicons")
        @classmethod
        def _readable(cls, value: list[Path]) -> list[Path]:
            for path in value:
                load_lexicon(path)  # a missing or malformed lexicon is a configuration error, found now
            return value

    def __init__(self, options: Options | None = None) -> None:
        self.options = options or self.Options()
        self._words: tuple[tuple[int, int], ObjectWords] | None = None

    # ------------------------------------------------------------------------------------ embedded

    def _local_issues(
        self, sample: Sample, tools: Mapping[str, Tool], facts: QueryFacts, calls_leaves: list[list[Leaf]]
    ) -> list[dict[str, Any]]:
        """Grounding, swaps, counts and unused values: everything but the tool ranking."""
        issues: list[dict[str, Any]] = []
        if self.options.questions and sample.calls and explanation_question(sample.query):
            issues.append(
                issue(
                    "question_answered_with_call",
                    "the query asks for an explanation, not an action, but the sample answers it with "
                    f"{len(sample.calls)} call(s)",
                )
            )
        for index, (call, call_leaves) in enumerate(zip(sample.calls, calls_leaves, strict=True)):
            if self.options.grounding:
                issues.extend(self._grounding_issues(index, call.name, call_leaves, facts, tools))
                issues.extend(range_issues(index, call.name, call_leaves, facts))
            if self.options.swaps:
                for a, b in swapped_pairs(call_leaves, facts, reach=self.options.swap_reach):
                    issues.append(
                        issue(
                            "swapped_values",
                            f"{pointer(a.path)} and {pointer(b.path)} of {call.name} look exchanged: the query "
                            "states each value next to the other argument's name, or as a tuple in another order",
                            index, a.path, other=pointer(b.path),
                        )
                    )  # fmt: skip
        every_leaf = [leaf for call_leaves in calls_leaves for leaf in call_leaves]
        if self.options.call_count and sample.calls:
            issues.extend(self._count_issues(sample, tools, facts, calls_leaves))
        if self.options.unused_values_min and sample.calls:
            unused = unused_values(facts, every_leaf)
            if len(unused) >= self.options.unused_values_min:
                issues.append(
                    issue(
                        "unused_query_value",
                        f"the query states {unused[:5]} but no argument uses them",
                        items=[str(u)[:80] for u in unused[:10]],
                    )
                )
        return issues

    def _lexicon(self, tool: Tool | None) -> ToolLexicon:
        return lexicon_for(tool, tuple(self.options.lexicons)) if tool else EMPTY

    def _grounding_issues(
        self, index: int, name: str, call_leaves: list[Leaf], facts: QueryFacts, tools: Mapping[str, Tool]
    ) -> list[dict[str, Any]]:
        lexicon = self._lexicon(tools.get(name))
        return grounding_issues(index, name, call_leaves, facts, lexicon, self.options.string_coverage)

    def _count_issues(
        self, sample: Sample, tools: Mapping[str, Tool], facts: QueryFacts, calls_leaves: list[list[Leaf]]
    ) -> list[dict[str, Any]]:
        every_leaf = [leaf for call_leaves in calls_leaves for leaf in call_leaves]
        expected = max(requested_calls(facts), distinct_requests(request_clauses(sample.query), calls_leaves))
        if expected > len(sample.calls):
            return [
                issue(
                    "call_count_mismatch",
                    f"the query asks for at least {expected} calls (its steps, enumerators or an explicit "
                    f"count) but the sample has {len(sample.calls)}",
                    expected=expected, calls=len(sample.calls),
                )
            ]  # fmt: skip
        # Words that describe the called tools (name, description, argument names) are not requests.
        described = frozenset(
            term
            for call in sample.calls
            if (tool := tools.get(call.name))
            for term in english_terms(tool_text(tool))
        )
        missing = unanswered_items(facts, every_leaf, described)
        if not missing:
            return []
        return [
            issue(
                "call_count_mismatch",
                f"the query also asks about {missing[:5]} but no call uses them ({len(sample.calls)} call(s))",
                items=[str(m) for m in missing[:10]],
            )
        ]

    def _choice_requests(
        self, sample: Sample, facts: QueryFacts, calls_leaves: list[list[Leaf]]
    ) -> list[_Choice]:
        """What to rank for the tool-choice check: each call against the part of the query it answers
        when the query divides into parts, else the called tools against the whole query."""
        contexts = call_contexts(facts, calls_leaves)
        if contexts is None and len(sample.calls) >= 2:
            # "해석을 실행한 다음 … 보여 줘", "open X and run the analysis": one request clause per call.
            clauses = request_clauses(sample.query)
            contexts = clauses if len(clauses) == len(sample.calls) else None
        if contexts is not None:
            return [_Choice(text, (i,), frozenset()) for i, text in enumerate(contexts)]
        called = frozenset(c.name for c in sample.calls)
        # Undivided query: the other called tools are not rivals (one text asks for all of them).
        return [_Choice(sample.query, tuple(range(len(sample.calls))), called)]

    def _object_words(self, tools: Mapping[str, Tool]) -> ObjectWords:
        # Distinguishing words depend on the whole catalog (what most tools share is boilerplate).
        key = (id(tools), len(tools))
        if self._words is None or self._words[0] != key:
            self._words = (key, ObjectWords(tools.values()))
        return self._words[1]

    def _structured_choice(
        self, sample: Sample, choice: _Choice, tools: Mapping[str, Tool]
    ) -> tuple[list[dict[str, Any]], list[_Choice]]:
        """Verb and object fit first (``verifiers.tool_choice``): issues it settles, and the choices
        left to the ranking (each call alone, without the rivals whose verb fits worse)."""
        words = self._object_words(tools)
        facts = QueryFacts(wording(choice.text) or choice.text)  # objects from the query's own words
        wanted = actions(choice.text)
        fits: dict[str, Fit] = {
            name: fit(tools[name], words, self._lexicon(tools[name]), facts, wanted) for name in sample.tools
        }
        issues: list[dict[str, Any]] = []
        unsure: list[_Choice] = []
        for index in choice.calls:
            name = sample.calls[index].name
            if name not in fits:
                continue
            called = fits[name]
            rivals = {t: f for t, f in fits.items() if t != name and t not in choice.not_rivals}
            verdict, preferred = choose(called, rivals)
            if verdict == "wrong" and preferred is not None:
                issues.append(
                    issue(
                        "wrong_tool_choice",
                        f"{preferred!r} fits the query's verb and objects better than the called {name!r}",
                        index, chosen=name, preferred=preferred, method="verbs",
                        chosen_fit=[called.verb, called.objects],
                        preferred_fit=[rivals[preferred].verb, rivals[preferred].objects],
                    )
                )  # fmt: skip
            elif verdict == "unsure":
                weaker = frozenset(t for t, f in rivals.items() if f.verb < called.verb)
                unsure.append(_Choice(choice.text, (index,), choice.not_rivals | weaker))
        return issues, unsure

    def _choice_issues(
        self, sample: Sample, choice: _Choice, ranking: tuple[str, list[float]], precision: str
    ) -> list[dict[str, Any]]:
        method, scores = ranking
        if not scores or max(scores) <= 0:
            return []  # nothing in the text matches any tool: the ranking has no opinion
        if method == "lexical":
            top = max(scores)
            scores = [s / top for s in scores]
            margin = self.options.lexical_margin
            arithmetic = {}
        else:
            margin = self.options.embedding_margin
            # The arithmetic the scores came from, for anyone comparing verdicts across machines.
            arithmetic = {"precision": precision}
        by_name = dict(zip(sample.tools, scores, strict=True))
        out = []
        for index in choice.calls:
            name = sample.calls[index].name
            if name not in by_name:
                continue
            rivals = [(s, t) for t, s in by_name.items() if t != name and t not in choice.not_rivals]
            if not rivals:
                continue
            best_score, best = max(rivals)
            if best_score - by_name[name] > margin:
                out.append(
                    issue(
                        "wrong_tool_choice",
                        f"{best!r} matches the query better than the called {name!r} ({method})",
                        index, chosen=name, preferred=best, chosen_score=round(by_name[name], 4),
                        preferred_score=round(best_score, 4), method=method, **arithmetic,
                    )
                )  # fmt: skip
        return out

    def _embedded(self, samples: list[Sample], tools: Mapping[str, Tool]) -> list[Verdict]:
        all_issues: list[list[dict[str, Any]]] = []
        requests: list[tuple[int, _Choice]] = []
        for i, sample in enumerate(samples):
            facts = QueryFacts(sample.query)
            calls_leaves = [
                leaves(c.arguments, tools[c.name].parameters if c.name in tools else None)
                for c in sample.calls
            ]
            all_issues.append(self._local_issues(sample, tools, facts, calls_leaves))
            if (
                self.options.tool_choice
                and sample.calls
                and len(sample.tools) > 1
                and all(t in tools for t in sample.tools)
            ):
                for choice in self._choice_requests(sample, facts, calls_leaves):
                    if not self.options.tool_verbs:
                        requests.append((i, choice))
                        continue
                    found, unsure = self._structured_choice(sample, choice, tools)
                    all_issues[i].extend(found)
                    requests.extend((i, c) for c in unsure)
        if requests:
            # Resolved once per batch: "auto" asks torch about the CPU, and verdicts name the result.
            # Only when a ranking will embed: lexical-only batches never import torch.
            embeds = resolve_mode(self.options.similarity) == "embedding" and any(
                samples[i].language.split("-")[0] == "en" for i, _ in requests
            )
            precision = resolve_precision(self.options.embedding_precision) if embeds else "float32"
            rankings = rank_scores(
                [choice.text for _, choice in requests],
                [samples[i].language for i, _ in requests],
                [[tools[t] for t in samples[i].tools] for i, _ in requests],
                self.options.similarity,
                precision,
            )
            for (i, choice), ranking in zip(requests, rankings, strict=True):
                all_issues[i].extend(self._choice_issues(samples[i], choice, ranking, precision))
        rank = {c: n for n, c in enumerate(CODES)}
        out: list[Verdict] = []
        for sample, issues in zip(samples, all_issues, strict=True):
            if not issues:
                out.append(
                    Verdict(sample_id=sample.id, verifier=NAME, passed=True, details={"mode": "embedded"})
                )
                continue
            issues.sort(key=lambda item: rank[item["code"]])
            first = issues[0]
            details = {"mode": "embedded", "pointer": first["pointer"], "issues": issues[:20]}
            if "call_index" in first:
                details["call_index"] = first["call_index"]
            out.append(
                Verdict(
                    sample_id=sample.id,
                    verifier=NAME,
                    passed=False,
                    code=first["code"],
                    message=first["message"],
                    details=details,
                )
            )
        return out

    # ------------------------------------------------------------------------------------- verify

    def verify(self, samples: list[Sample], ctx: VerifyContext) -> list[Verdict]:
        """One verdict per sample, in order (see the module docstring for codes)."""
        tools = ctx.catalog.by_name
        if self.options.mode == "embedded":
            return self._embedded(samples, tools)
        teacher = ctx.resources.get(TEACHER_KEY)
        if teacher is None or not callable(getattr(teacher, "complete", None)):
            raise ConfigError(
                f"semantic verifier mode={self.options.mode!r} needs a teacher client with an async "
                f"complete(messages, ...) method in ctx.resources[{TEACHER_KEY!r}]; set mode='embedded' to run without one"
            )
        if self.options.mode == "judge":
            return judge(
                teacher, samples, tools, concurrency=self.options.concurrency, seed=self.options.judge_seed
            )
        first = self._embedded(samples, tools)
        passed = [i for i, v in enumerate(first) if v.passed]
        judged = judge(
            teacher,
            [samples[i] for i in passed],
            tools,
            concurrency=self.options.concurrency,
            seed=self.options.judge_seed,
        )
        for i, verdict in zip(passed, judged, strict=True):
            first[i] = verdict
        return first
