"""JSON-schema-constrained decoding of tool calls for local models: every reply is a valid call.

    decoder = ConstrainedDecoder(LocalModel.load(path))
    replies = decoder.generate([messages], [tools], max_new_tokens=256)
    # '<tool_call>\\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\\n</tool_call>'

A ``LogitsProcessor`` masks, at every step, the tokens that would leave the grammar

    <tool_call>\\n{"name": NAME, "arguments": ARGS}\\n</tool_call>   (then EOS, or \\n and another call)

where NAME is one of the offered tools and ARGS a JSON value valid for that tool's ``parameters``.
The grammar (``trainer.evaluation.call_grammar``, over schemas compiled by ``trainer.evaluation.schema_nodes``) is a
character-level pushdown automaton; tokens are checked by walking a trie of the vocabulary's texts
alongside it, plain string content by array arithmetic (``benchmarks/constrained_decoding.py``). It
keeps a *budget*: a token is allowed only if the shortest completion after it still fits in
``max_new_tokens``, so a reply is never cut off mid-call, even from an untrained model. The shortest
completion counts every required property, inside map values (``additionalProperties`` with a
``$ref``) as anywhere else; where even the shortest call of every offered tool does not fit in
``max_new_tokens``, the reply is empty (no call: wrong where a call was due) instead of a call cut
off, and ``last_budget_hits`` says so.

Supported JSON Schema: ``type`` (one or a list), ``properties``, ``required``,
``additionalProperties`` (``false``, or a schema: a map with free keys when there are no
``properties``; the top level of ``arguments`` is closed unless it says otherwise, as in the format
verifier), ``propertyNames``, ``minProperties``/``maxProperties``, ``items``, ``minItems``/
``maxItems``, ``enum``, ``const``, ``minLength``/``maxLength``, ``pattern`` of the form ``^[class]+$``
(``*``, ``{m,n}``, ``\\d``, ``\\w``, ranges), ``minimum``/``maximum``/``exclusiveMinimum``/
``exclusiveMaximum``, ``anyOf``/``oneOf`` (as alternatives), ``allOf`` (merged) and local ``$ref``
(recursion included). Ignored, so replies may break them: other ``pattern``s, ``format``,
``multipleOf``, ``uniqueItems``, ``prefixItems``, ``patternProperties``, ``dependentRequired``, and
distinct free keys (``minProperties`` above 1 may be met by a repeated key). Strings carry no escapes.
JSON is written in the layout chat templates use (``", "`` and ``": "``, no other spaces). A
constrained model always calls a tool when one is offered, so irrelevance accuracy is 0 by
construction. Greedy or sampled decoding only (no beam search): the processor follows each row's last
token.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from trainer.evaluation.call_grammar import Grammar, State, Str

_OPTIONS_KEPT = 50_000  # grammar states whose allowed tokens are cached (each holds small tensors)


@dataclass(frozen=True)
class Walked:
    """Tokens found by walking a trie, with the completion cost after each."""

    ids: Any  # int64 array
    costs: Any  # int64 array

    def allowed(self, budget: int) -> Any:
        return self.ids[self.costs <= budget]

    def every(self) -> tuple[Any, Any]:
        return self.ids, self.costs


@dataclass(frozen=True)
class StringContent:
    """Plain tokens inside a string: their cost follows from their length, so nothing is walked."""

    ids: Any  # int64 array, shared by every string with the same characters allowed
    lengths: Any  # int64 array
    count: int  # characters written so far (capped at ``low`` when there is no ``high``)
    low: int
    high: int | None
    below: int  # cost of what follows the closing quote

    def every(self) -> tuple[Any, Any]:
        total = self.count + self.lengths
        # The cost the grammar gives the Str frame after these characters, plus what lies below.
        costs = (self.low - total).clip(min=0) + 1 + self.below
        if self.high is None:
            return self.ids, costs
        fits = total <= self.high
        return self.ids[fits], costs[fits]

    def allowed(self, budget: int) -> Any:
        ids, costs = self.every()
        return ids[costs <= budget]


class Vocabulary:
    """The text of every regular token (special ones and partial UTF-8 bytes left out), in tries.

    Token texts are read after an anchor token, so SentencePiece tokens keep their leading space.
    Inside a string most of a large vocabulary is allowed, and walking a trie of 150,000 tokens
    takes seconds in Python; so tokens that are plain string content (no quote, backslash or control
    character) are judged at once with numpy arithmetic, and only the others are walked. (numpy, not
    torch: these are small CPU arrays, and torch's thread pool made each step ~20x slower on 2 busy cores.)
    """

    def __init__(self, texts: dict[int, str], eos_ids: Sequence[int]) -> None:
        self.texts, self.eos_ids = texts, list(eos_ids)
        self._plain = {t: text for t, text in texts.items() if _plain(text)}
        self.trie = _trie(texts)
        self._other_trie = _trie({t: text for t, text in texts.items() if t not in self._plain})
        self._by_charset: dict[frozenset[str] | None, tuple[Any, Any]] = {}
        self._plain_tokens(None)  # free strings are everywhere: build their arrays now

    @classmethod
    def from_tokenizer(cls, tokenizer: Any, eos_ids: Sequence[int]) -> Vocabulary:
        special = set(tokenizer.all_special_ids)
        anchor = tokenizer.encode("0", add_special_tokens=False)[-1]
        skip = len(tokenizer.decode([anchor], clean_up_tokenization_spaces=False))
        ids = [i for i in range(len(tokenizer)) if i not in special]
        decoded = tokenizer.batch_decode([[anchor, i] for i in ids], clean_up_tokenization_spaces=False)
        texts = {
            i: d[skip:] for i, d in zip(ids, decoded, strict=True) if d[skip:] and "\ufffd" not in d[skip:]
        }
        return cls(texts, eos_ids)

    def options(self, grammar: Grammar, state: State) -> list[Walked | StringContent]:
        """The tokens allowed from ``state``, in parts that answer "which fit in this budget?"."""
        if len(state) == 1:
            (stack,) = state
            if isinstance(stack[-1], Str):
                frame, node = stack[-1], grammar.nodes[stack[-1].node]
                ids, lengths = self._plain_tokens(node.chars)
                inside = StringContent(
                    ids, lengths, frame.count, node.low, node.high, grammar.stack_cost(stack[:-1])
                )
                return [inside, walk_trie(self._other_trie, grammar, state)]
        return [walk_trie(self.trie, grammar, state)]

    def walk(self, grammar: Grammar, state: State) -> tuple[Any, Any]:
        """Every token allowed from ``state`` and the completion cost after it (two int64 arrays)."""
        import numpy as np

        parts = [part.every() for part in self.options(grammar, state)]
        return np.concatenate([ids for ids, _ in parts]), np.concatenate([costs for _, costs in parts])

    def _plain_tokens(self, chars: frozenset[str] | None) -> tuple[Any, Any]:
        import numpy as np

        if chars not in self._by_charset:
            keep = [t for t, text in self._plain.items() if chars is None or set(text) <= chars]
            lengths = [len(self._plain[t]) for t in keep]
            self._by_charset[chars] = (np.array(keep, dtype=np.int64), np.array(lengths, dtype=np.int64))
        return self._by_charset[chars]


def _plain(text: str) -> bool:
    return '"' not in text and "\\" not in text and all(ch >= " " for ch in text)


def _trie(texts: dict[int, str]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for token, text in texts.items():
        node = root
        for ch in text:
            node = node.setdefault(ch, {})
        node.setdefault("", []).append(token)  # "" is never a character: it holds the ids ending here
    return root


def walk_trie(trie: dict[str, Any], grammar: Grammar, state: State) -> Walked:
    """Walk ``trie`` alongside the grammar from ``state``: the tokens it allows and the cost after each."""
    import numpy as np

    ids: list[int] = []
    costs: list[int] = []
    todo = [(trie, state)]
    while todo:
        node, current = todo.pop()
        for ch, child in node.items():
            if not ch:
                continue
            nxt = grammar.step(current, ch)
            if not nxt:
                continue
            ends = child.get("")
            if ends:
                ids.extend(ends)
                costs.extend([grammar.cost(nxt)] * len(ends))
            if len(child) > (1 if ends else 0):
                todo.append((child, nxt))
    return Walked(np.array(ids, dtype=np.int64), np.array(costs, dtype=np.int64))


class ToolCallLogitsProcessor:
    """Masks every token that leaves a row's grammar or its budget (a ``transformers`` logits processor).

    One instance serves one ``generate`` call: it follows each row through the tokens chosen so far.
    ``options`` caches the allowed tokens per grammar state across calls (pass the same dict).
    """

    def __init__(
        self,
        grammars: Sequence[Grammar],
        vocabulary: Vocabulary,
        max_new_tokens: int,
        options: dict[tuple[int, State], list[Walked | StringContent]] | None = None,
    ) -> None:
        self.grammars, self.vocabulary, self.max_new_tokens = list(grammars), vocabulary, max_new_tokens
        self.states = [g.start() for g in self.grammars]
        self.done = [False] * len(self.grammars)
        self.steps = 0
        self._options = options if options is not None else {}

    def _allowed(self, grammar: Grammar, state: State, budget: int) -> Any:
        """The token ids (a LongTensor) allowed from ``state`` with ``budget`` tokens left after this one."""
        import numpy as np
        import torch

        key = (id(grammar), state)
        if key not in self._options:
            if len(self._options) >= _OPTIONS_KEPT:
                self._options.clear()  # a long evaluation meets many states; few recur after a while
            self._options[key] = self.vocabulary.options(grammar, state)
        parts = self._options[key]
        within = np.concatenate([part.allowed(budget) for part in parts])
        if not len(within) and not grammar.can_end(state):
            within = np.concatenate([part.every()[0] for part in parts])  # budget too small from the start
        if grammar.can_end(state):
            within = np.concatenate([within, np.array(self.vocabulary.eos_ids, dtype=np.int64)])
        return torch.from_numpy(within)

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        if self.steps:
            for row, token in enumerate(input_ids[:, -1].tolist()):
                if self.done[row]:
                    continue
                if token in self.vocabulary.eos_ids:
                    self.done[row] = True
                    continue
                text = self.vocabulary.texts.get(token, "")
                self.states[row] = self.grammars[row].feed(self.states[row], text) if text else frozenset()
                self.done[row] = not self.states[row]
        budget = self.max_new_tokens - self.steps - 1  # tokens left after the one chosen now
        allowed = torch.zeros_like(scores, dtype=torch.bool)
        for row, (grammar, state) in enumerate(zip(self.grammars, self.states, strict=True)):
            if self.done[row]:
                allowed[row] = True  # finished rows are padded by generate whatever is chosen
                continue
            tokens = self._allowed(grammar, state, budget)
            tokens = tokens[tokens < scores.shape[-1]].to(scores.device)
            allowed[row, tokens if len(tokens) else self.vocabulary.eos_ids] = True
        self.steps += 1
        return scores.masked_fill(~allowed, float("-inf"))


class ConstrainedDecoder:
    """A ``trainer.inference.LocalModel`` whose replies are forced into valid tool calls.

    Grammars (per set of offered tools) and the tokens allowed per state are cached across calls, so
    an evaluation that offers the same tools many times pays for each state once.
    """

    def __init__(self, model: Any, *, max_calls: int = 4) -> None:
        self.local, self.max_calls = model, max_calls
        tokenizer = model.tokenizer
        eos = {tokenizer.eos_token_id}
        configured = getattr(model.model.generation_config, "eos_token_id", None)
        eos.update([configured] if isinstance(configured, int) else configured or [])
        self.eos_ids = sorted(i for i in eos if i is not None)
        self.vocabulary = Vocabulary.from_tokenizer(tokenizer, self.eos_ids)
        self._grammars: dict[str, Grammar] = {}
        self._options: dict[tuple[int, State], list[Walked | StringContent]] = {}
        self.last_budget_hits: list[bool] = []  # per row of the last generate: ran into max_new_tokens

    def measure(self, text: str) -> int:
        """Tokens the tokenizer spends on ``text``; characters when a token is not a whole text piece."""
        ids = self.local.tokenizer.encode(text, add_special_tokens=False)
        return len(ids) if all(i in self.vocabulary.texts for i in ids) else len(text)

    def grammar(self, tools: Sequence[dict[str, Any]]) -> Grammar:
        key = json.dumps(list(tools), sort_keys=True, ensure_ascii=False)
        if key not in self._grammars:
            self._grammars[key] = Grammar(tools, measure=self.measure, max_calls=self.max_calls)
        return self._grammars[key]

    def generate(
        self,
        conversations: Sequence[list[dict[str, Any]]],
        tools: Sequence[Sequence[dict[str, Any]]],
        *,
        max_new_tokens: int,
    ) -> list[str]:
        """One reply per conversation, greedy, each a sequence of valid ``<tool_call>`` blocks."""
        import torch
        from transformers import LogitsProcessorList

        if not conversations:
            return []
        grammars = [self.grammar(t) for t in tools]
        # A row whose shortest call cannot fit gets no call at all rather than a call cut off.
        fits = [g.cost(g.start()) <= max_new_tokens for g in grammars]
        rows = [i for i, ok in enumerate(fits) if ok]
        replies = [""] * len(conversations)
        self.last_budget_hits = [not ok for ok in fits]
        if not rows:
            return replies
        tokenizer, model = self.local.tokenizer, self.local.model
        prompts = [self.local.render(list(conversations[i]), list(tools[i])) for i in rows]
        encoded = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        encoded = {k: v.to(model.device) for k, v in encoded.items()}
        processor = ToolCallLogitsProcessor(
            [grammars[i] for i in rows], self.vocabulary, max_new_tokens, self._options
        )
        with torch.inference_mode():
            output = model.generate(
                **encoded,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=self.eos_ids,
                logits_processor=LogitsProcessorList([processor]),
            )
        new_tokens = output[:, encoded["input_ids"].shape[1] :]
        texts = tokenizer.batch_decode(
            new_tokens, skip_special_tokens=True, clean_up_tokenization_spaces=False
        )
        for k, (i, text) in enumerate(zip(rows, texts, strict=True)):
            replies[i] = text.strip()
            # Every new token used and no end token: the row ran into its budget.
            row = new_tokens[k].tolist()
            self.last_budget_hits[i] = len(row) >= max_new_tokens and not any(t in self.eos_ids for t in row)
        return replies
