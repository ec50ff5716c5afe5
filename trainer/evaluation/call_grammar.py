"""The language of tool-call replies for one set of offered tools, as a character-level automaton.

    grammar = Grammar(tools)                       # OpenAI-format tool schemas
    state = grammar.feed(grammar.start(), '<tool_call>\n{"name": "get_weather", ')
    grammar.step(state, '"')                       # non-empty: allowed; frozenset(): not allowed
    grammar.cost(state), grammar.can_end(state)    # tokens still needed at least; complete?

A reply is ``<tool_call>\n{"name": NAME, "arguments": ARGS}\n</tool_call>``, optionally followed by
``\n`` and more calls (up to ``max_calls``): NAME one of the offered tools, ARGS valid for its
``parameters`` (see ``trainer.evaluation.schema_nodes`` for the JSON Schema subset). JSON is written in the
layout chat templates use: ``", "`` and ``": "``, no other whitespace; strings carry no escapes.

A state is a frozenset of stacks (bottom first) of immutable frames, so alternatives (``anyOf``, a
key that may be declared or free) are followed side by side and states can key caches. ``cost`` is the
fewest tokens (by ``measure``) that complete the reply, which lets a decoder keep a token budget.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from trainer.evaluation.schema_nodes import INF, Node, SchemaCompiler, canonical_number, dumps, number_cost

OPEN, CLOSE = "<tool_call>\n", "\n</tool_call>"
Stack = tuple[Any, ...]  # frames, bottom first
State = frozenset  # of Stacks


@dataclass(frozen=True, slots=True)
class Lit:
    text: str
    pos: int = 0


@dataclass(frozen=True, slots=True)
class Pick:
    """One of several literal texts; when ``options[i]`` is complete, ``then[i]`` replaces this frame."""

    options: tuple[str, ...]
    then: tuple[Stack, ...]
    alive: tuple[int, ...]
    pos: int = 0


@dataclass(frozen=True, slots=True)
class Str:  # inside a string (a value or a free key), after its opening quote
    node: int
    count: int = 0


@dataclass(frozen=True, slots=True)
class Num:
    spec: tuple[Any, ...]
    text: str = ""


@dataclass(frozen=True, slots=True)
class Obj:
    node: int
    seen: frozenset[str] = frozenset()  # declared keys written
    phase: int = 0  # 0: after "{", 1: after a value, 3: after ", " (a key must follow)
    count: int = 0  # keys written (declared or free), for min/maxProperties


@dataclass(frozen=True, slots=True)
class Arr:
    node: int
    count: int = 0
    phase: int = 0  # as Obj


@dataclass(frozen=True, slots=True)
class Val:
    node: int


@dataclass(frozen=True, slots=True)
class Tail:
    calls: int


class Grammar:
    """The tool-call language for one set of offered tools; states are immutable and shareable.

    ``measure(text)`` counts the tokens a literal text costs (default: one per character, an upper
    bound for byte-level vocabularies); it only sizes the budget.
    """

    def __init__(
        self, tools: Sequence[dict[str, Any]], *, measure: Callable[[str], int] = len, max_calls: int = 4
    ):
        self.nodes: list[Node] = []
        self.max_calls = max_calls
        self._measure = measure
        self._measured: dict[str, int] = {}
        names, then = [], []
        for tool in tools:
            fn = tool.get("function", tool)
            params = fn.get("parameters") or {"type": "object", "properties": {}}
            args = SchemaCompiler(params, self.nodes).compile(params, top=True)
            names.append(dumps(fn["name"]))
            then.append((Lit("}"), Val(args), Lit(', "arguments": ')))
        self._call = (Pick(tuple(names), tuple(then), tuple(range(len(names)))), Lit('{"name": '))
        self._node_costs = self._fixed_point_costs()
        self._costs: dict[Stack, int] = {}
        self._steps: dict[tuple[State, str], State] = {}

    def start(self) -> State:
        if not self._call[0].options:  # no tool offered: the only reply is the empty one
            return frozenset({(Tail(self.max_calls),)})
        return frozenset({(Tail(1), Lit(CLOSE), *self._call, Lit(OPEN))})

    def measure(self, text: str) -> int:
        if text not in self._measured:
            self._measured[text] = self._measure(text) if text else 0
        return self._measured[text]

    # -- costs ----------------------------------------------------------------------------------------

    def _fixed_point_costs(self) -> list[int]:
        costs = [INF] * len(self.nodes)
        for _ in range(len(self.nodes) + 2):  # recursion converges in at most one pass per node
            changed = False
            for i, node in enumerate(self.nodes):
                value = min(INF, self._node_cost(i, node, costs))
                if value < costs[i]:
                    costs[i], changed = value, True
            if not changed:
                break
        return costs

    def _node_cost(self, index: int, node: Node, costs: list[int]) -> int:
        if node.kind == "string":
            return 2 + node.low
        if node.kind == "number":
            cost = number_cost("", node.number)
            return INF if cost is None else cost
        if node.kind == "literal":
            return min(self.measure(o) for o in node.options)
        if node.kind == "union":
            return min((costs[a] for a in node.alts), default=INF)
        if node.kind == "object":
            return 1 + self._object_cost(Obj(index), costs)
        if node.kind == "array":
            return 2 + node.low * costs[node.item] + self.measure(", ") * max(0, node.low - 1)
        return INF

    def _pair_cost(self, key: str, value_cost: int) -> int:
        return self.measure(dumps(key) + ": ") + value_cost

    def stack_cost(self, stack: Stack) -> int:
        cost = self._costs.get(stack)
        if cost is None:
            cost = self._costs[stack] = min(INF, sum(self._frame_cost(f) for f in stack))
        return cost

    def cost(self, state: State) -> int:
        """Fewest tokens (by ``measure``) that complete the reply from ``state``."""
        return min((self.stack_cost(s) for s in state), default=INF)

    def _frame_cost(self, f: Any) -> int:
        if isinstance(f, Lit):
            return self.measure(f.text[f.pos :])
        if isinstance(f, Pick):
            return min(self.measure(f.options[i][f.pos :]) + self.stack_cost(f.then[i]) for i in f.alive)
        if isinstance(f, Str):
            return max(0, self.nodes[f.node].low - f.count) + 1
        if isinstance(f, Num):
            cost = number_cost(f.text, f.spec)
            return INF if cost is None else cost
        if isinstance(f, Val):
            return self._node_costs[f.node]
        if isinstance(f, Obj):
            return self._object_cost(f)
        if isinstance(f, Arr):
            node = self.nodes[f.node]
            need = max(0, node.low - f.count)
            item, sep = self._node_costs[node.item], self.measure(", ")
            if f.phase == 1:
                return need * (item + sep) + 1
            if f.phase == 3:
                need = max(need, 1)
            return need * item + sep * max(0, need - 1) + 1
        return 0  # Tail

    def _object_cost(self, f: Obj, costs: list[int] | None = None) -> int:
        costs = self._node_costs if costs is None else costs
        node, sep = self.nodes[f.node], self.measure(", ")
        missing = [self._pair_cost(k, costs[n]) for k, n in node.keys if k in node.required - f.seen]
        optional = sorted(
            self._pair_cost(k, costs[n]) for k, n in node.keys if k not in f.seen and k not in node.required
        )
        if node.extra is not None and node.key is not None:  # free keys: as many as wanted
            free = costs[node.key] + self.measure(": ") + costs[node.extra]
            optional += [free] * max(0, node.low - f.count, 1)
        more = max(0, node.low - f.count - len(missing), 1 if f.phase == 3 and not missing else 0)
        if more > len(optional):
            return INF
        pairs = len(missing) + more
        body = sum(missing) + sum(optional[:more])
        if f.phase == 1:
            return body + sep * pairs + 1
        return body + sep * max(0, pairs - 1) + 1

    # -- transitions ----------------------------------------------------------------------------------

    def step(self, state: State, ch: str) -> State:
        """The state after one more character (empty: the character is not allowed)."""
        key = (state, ch)
        out = self._steps.get(key)
        if out is None:
            out = self._steps[key] = frozenset(s for stack in state for s in self._feed(stack, ch))
        return out

    def feed(self, state: State, text: str) -> State:
        for ch in text:
            state = self.step(state, ch)
            if not state:
                break
        return state

    def can_end(self, state: State) -> bool:
        return any(len(s) == 1 and isinstance(s[0], Tail) for s in state)

    def accepts(self, text: str) -> bool:
        """Whether ``text`` is a complete reply of this grammar."""
        return self.can_end(self.feed(self.start(), text))

    def _feed(self, stack: Stack, ch: str) -> list[Stack]:
        if not stack:
            return []
        below, f = stack[:-1], stack[-1]
        if isinstance(f, Lit):
            if f.text[f.pos] != ch:
                return []
            return [below] if f.pos + 1 == len(f.text) else [(*below, Lit(f.text, f.pos + 1))]
        if isinstance(f, Pick):
            alive = tuple(i for i in f.alive if f.options[i][f.pos] == ch)
            out = [(*below, *f.then[i]) for i in alive if len(f.options[i]) == f.pos + 1]
            longer = tuple(i for i in alive if len(f.options[i]) > f.pos + 1)
            if longer:
                out.append((*below, Pick(f.options, f.then, longer, f.pos + 1)))
            return out
        if isinstance(f, Str):
            node = self.nodes[f.node]
            if ch == '"':
                return [below] if f.count >= node.low else []
            if ch == "\\" or ch < " " or (node.high is not None and f.count >= node.high):
                return []
            if node.chars is not None and ch not in node.chars:
                return []
            count = f.count + 1 if node.high is not None else min(f.count + 1, node.low)
            return [(*below, Str(f.node, count))]
        if isinstance(f, Num):
            text = f.text + ch
            if ch in "-.0123456789" and number_cost(text, f.spec) is not None:
                _, lo, hi, _, _ = f.spec
                if lo is None and hi is None:  # keep states few: only the grammar position matters
                    text = canonical_number(text)
                return [(*below, Num(f.spec, text))]
            return self._feed(below, ch) if number_cost(f.text, f.spec) == 0 else []
        if isinstance(f, Val):
            return self._start_value(below, self.nodes[f.node], f.node, ch)
        if isinstance(f, Obj):
            return self._feed_object(below, f, ch)
        if isinstance(f, Arr):
            return self._feed_array(below, f, ch)
        if isinstance(f, Tail):
            if ch != "\n" or f.calls >= self.max_calls:
                return []
            return [(Tail(f.calls + 1), Lit(CLOSE), *self._call, Lit("\n" + OPEN, 1))]
        return []

    def _start_value(self, below: Stack, node: Node, node_id: int, ch: str) -> list[Stack]:
        if node.kind == "union":
            return [s for a in node.alts for s in self._start_value(below, self.nodes[a], a, ch)]
        if node.kind == "string":
            return [(*below, Str(node_id))] if ch == '"' else []
        if node.kind == "literal":
            pick = Pick(node.options, ((),) * len(node.options), tuple(range(len(node.options))))
            return self._feed((*below, pick), ch)
        if node.kind == "number":
            assert node.number is not None  # the compiler gives every number node its bounds
            return self._feed((*below, Num(node.number)), ch) if ch in "-0123456789" else []
        if node.kind == "object":
            return [(*below, Obj(node_id))] if ch == "{" else []
        if node.kind == "array":
            return [(*below, Arr(node_id))] if ch == "[" else []
        return []

    def _feed_object(self, below: Stack, f: Obj, ch: str) -> list[Stack]:
        node = self.nodes[f.node]
        free = [(k, n) for k, n in node.keys if k not in f.seen]
        room = node.high is None or f.count < node.high
        if ch == "}" and f.phase in (0, 1):
            return [below] if node.required <= f.seen and f.count >= node.low else []
        if ch == "," and f.phase == 1:
            more = room and (free or node.extra is not None)
            return [(*below, Obj(f.node, f.seen, 3, f.count), Lit(", ", 1))] if more else []
        if ch != '"' or f.phase == 1 or not room:
            return []
        # Without maxProperties only "enough keys for minProperties" matters: keep states few.
        count = f.count + 1 if node.high is not None else min(f.count + 1, node.low)
        out: list[Stack] = []
        if free:
            options = tuple(dumps(k) + ": " for k, _ in free)
            then = tuple((Obj(f.node, f.seen | {k}, 1, count), Val(n)) for k, n in free)
            out.append((*below, Pick(options, then, tuple(range(len(free))), 1)))
        if node.extra is not None and node.key is not None:
            out.append((*below, Obj(f.node, f.seen, 1, count), Val(node.extra), Lit(": "), Str(node.key)))
        return out

    def _feed_array(self, below: Stack, f: Arr, ch: str) -> list[Stack]:
        node = self.nodes[f.node]
        if ch == "]" and f.phase in (0, 1):
            return [below] if f.count >= node.low else []
        if ch == "," and f.phase == 1:
            return (
                [(*below, Arr(f.node, f.count, 3), Lit(", ", 1))]
                if node.high is None or f.count < node.high
                else []
            )
        if f.phase == 1 or (node.high is not None and f.count >= node.high):
            return []
        count = f.count + 1 if node.high is not None else min(f.count + 1, max(node.low, 1))
        return self._start_value((*below, Arr(f.node, count, 1)), self.nodes[node.item], node.item, ch)

    def next_chars(self, state: State, alphabet: str) -> list[str]:
        """The characters of ``alphabet`` allowed next (for tests and debugging)."""
        return [c for c in alphabet if self.step(state, c)]
