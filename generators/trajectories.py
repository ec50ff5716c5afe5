"""The offline trajectory generator: multi-turn blueprints by walks over the reference graph.

In: a catalog of GEN NX-style ``/db`` tables (``post_``/``get_``/``put_``/``delete_db_<table>`` tools),
the spec's reference graph (``schemas.references``) and a seed. Out: ``Trajectory`` records
(``schemas.trajectories``) without tool messages — the verifier replays every call in the sandbox and
fills them in, so every tool message in a verified record is a real sandbox response.

One blueprint is a walk from a table T: its prerequisites are seeded (rows of every table T refers
to) and, when T refers to anything, one more prerequisite is created in the first turn; then T's row
is created (its reference fields pointing at those rows), read back (the assistant must say the row's
id), updated, and sometimes cleared and read again: 2–5 user turns, 3–8 calls. The four BFCL
categories: ``base``; ``miss_param`` (the user first asks without values, the assistant asks back);
``miss_func`` (T's create tool is withheld in the turn that asks for it, offered from the next);
``long_context`` (a long preamble and a bigger initial state). English and Korean; ``variants``
surface variants per blueprint (different framing of the same turns).

Values are the offline template generator's (``generators.values`` samplers, every value stated in
the user turn by ``generators.phrasing``), so grounding holds by construction.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from generators.phrasing import Phrasebook, render_scalar
from generators.values import SchemaTooLarge, ValueOptions, compile_schema
from schemas.canonical import canonical_json
from schemas.catalog import Catalog
from schemas.references import Reference, ReferenceGraph
from schemas.trajectories import Trajectory

CATEGORIES = ("base", "miss_param", "miss_func", "long_context")
LANGUAGES = ("en", "ko")
_OPTIONS = ValueOptions(map_entries=(1, 1), array_items=(1, 2), max_optional=3, optional_p=0.3)
_SEED_ROWS = 8  # rows seeded per prerequisite table (an ELEM of a SOLID takes 8 distinct nodes)
# Long schemas. GEN NX's post_db_sect alone is 37k characters of JSON schema: one such tool would fill a
# training row (max length measured in trainer/dataset/trajectory_lengths.py). A tool whose OpenAI schema
# is longer than MAX_TOOL_CHARS is never offered: a table it writes is only ever seeded through
# initial_state (and cannot start a walk); the tools of one trajectory stay within TOOL_BUDGET_CHARS,
# offered-but-uncalled tools dropped largest first. 10 of GEN NX's 207 CRUD tables go over the bound.
MAX_TOOL_CHARS = 6_000
TOOL_BUDGET_CHARS = 10_000
_PREAMBLE = {
    "en": (
        "Some context before we start: this model is a design study for a mid-rise office building, and "
        "the tables already hold the rows my colleague entered last week. We are checking the load path "
        "floor by floor, so please keep the existing numbering and do only what I ask in each message."
    ),
    "ko": (
        "시작 전에 배경을 말할게. 이 모델은 중층 사무소 건물 설계 검토용이고, 테이블에는 지난주에 동료가 입력한 행들이 "
        "이미 들어 있어. 층별로 하중 경로를 확인하는 중이니까 기존 번호는 그대로 두고, 메시지마다 요청한 것만 해줘."
    ),
}
_FRAMES = {
    "en": ("{}.", "Please {}.", "Next, {}.", "Could you {}?"),
    "ko": ("{}", "{} 부탁해.", "이번엔 {}", "그리고 {}"),
}
# Clauses that already ask ("I need you to …", "please …"; Korean ending in a verb such as "수정해줘")
# would read twice framed: "Could you I need you to …", "수정해줘 부탁해."
_EN_ASKING = ("i need you to ", "please ")
_KO_ASKING_ENDINGS = ("줘", "해", "부탁해")


def _fitting_frame(frame: str, clause: str, language: str) -> str:
    """``frame`` unless the clause already asks for itself; then the plain frame."""
    if language == "en":
        asks = clause.lower().startswith(_EN_ASKING) or "please" in clause
        return "{}." if asks and frame in ("Please {}.", "Could you {}?") else frame
    asks = clause.rstrip(" .").endswith(_KO_ASKING_ENDINGS)
    return "{}" if asks and "부탁해" in frame else frame


@dataclass
class _Table:
    key: str
    post: str
    get: str
    put: str
    delete: str


class TrajectoryGenerator:
    """Blueprints over every ``/db`` table with the four CRUD tools (see the module docstring)."""

    def __init__(
        self, catalog: Catalog, graph: ReferenceGraph, *, spec: str = "specs/gennx/openapi.yaml"
    ) -> None:
        self.catalog = catalog
        self.graph = graph
        self.spec = spec
        self.tables: dict[str, _Table] = {}
        for tool in catalog:
            path = tool.binding.path
            if tool.binding.method.lower() == "post" and path.startswith("/db/") and path.count("/") == 2:
                key = path[len("/db/") :]
                names = [f"{m}_db_{key.lower().replace('-', '_')}" for m in ("post", "get", "put", "delete")]
                if all(n in catalog for n in names):
                    self.tables[key] = _Table(key, *names)
        self._kits: dict[str, tuple[Any, Phrasebook]] = {}
        self._sizes: dict[str, int] = {}

    def tool_chars(self, name: str) -> int:
        """Characters of the tool's OpenAI schema as JSON (what a chat template renders, roughly)."""
        if name not in self._sizes:
            schema = self.catalog[name].openai_schema()
            self._sizes[name] = len(json.dumps(schema, ensure_ascii=False, separators=(",", ":")))
        return self._sizes[name]

    def fits(self, name: str) -> bool:
        return self.tool_chars(name) <= MAX_TOOL_CHARS

    def own_chars(self, key: str) -> int:
        t = self.tables[key]
        return sum(map(self.tool_chars, (t.post, t.get, t.put, t.delete)))

    def startable(self, key: str) -> bool:
        """Whether a walk can start at ``key``: its four tools fit the bound and, together, the budget."""
        t = self.tables[key]
        fit = all(map(self.fits, (t.post, t.get, t.put, t.delete)))
        return fit and self.own_chars(key) <= TOOL_BUDGET_CHARS

    def kit(self, name: str) -> tuple[Any, Phrasebook]:
        if name not in self._kits:
            tool = self.catalog[name]
            self._kits[name] = (compile_schema(tool.parameters, _OPTIONS), Phrasebook(tool))
        return self._kits[name]

    def references(self, table: str) -> list[Reference]:
        return [r for r in self.graph.of(table) if r.target in self.tables and r.target != table]

    def generate(self, count: int, *, seed: int = 0, variants: int = 2) -> Iterator[Trajectory | str]:
        """``count`` trajectories (round-robin over tables, categories and languages); a string names a
        blueprint that could not be drawn (its table and why), so the caller can count them."""
        rng = random.Random(seed)
        # a table whose own tools are too long to offer never starts a walk (it is only ever seeded)
        keys = sorted(k for k in self.tables if self.startable(k))
        if not keys:
            raise ValueError(
                "the catalog has no /db table with all four tools named post_/get_/put_/delete_db_<table> "
                "(ingest the GEN NX spec with naming 'snake')"
            )
        made = 0
        index = 0
        seen: set[str] = set()
        while made < count:
            # every table early; over rounds, every table in every category and language
            # table i in round r gets slot (i + r) mod 8: over 8 rounds every table meets every category
            # and language. (Deriving the category from the running index instead, as before, gave a
            # table the same category in every round whenever the table count + 1 was a multiple of 4 --
            # GEN NX's 207 tables: ELEM was never miss_param.)
            slot = index % len(keys) + index // len(keys)
            table = keys[index % len(keys)]
            category = CATEGORIES[slot % len(CATEGORIES)]
            language = LANGUAGES[slot // len(CATEGORIES) % len(LANGUAGES)]
            index += 1
            blueprint_seed = rng.randrange(1 << 30)
            try:
                plan = self._blueprint(table, category, random.Random(blueprint_seed))
            except (SchemaTooLarge, _Skip) as exc:
                yield f"{table}: {exc}"
                made += 1
                continue
            for variant in range(min(variants, count - made)):
                drawn = self._render(
                    plan, language, category, random.Random(blueprint_seed + variant), variant
                )
                made += 1
                # a table whose rows carry no values to vary (open rows drawn empty) repeats itself:
                # the same record twice teaches nothing, and the verifier would reject it as a duplicate
                key = canonical_json(drawn.to_record() | {"id": ""})
                if key in seen:
                    yield f"{table}: the same trajectory again (its rows have no values to vary)"
                    continue
                seen.add(key)
                yield drawn

    # --------------------------------------------------------------------------------------- plan

    def _row(self, tool: str, rng: random.Random) -> dict[str, Any]:
        sampler, _ = self.kit(tool)
        arguments = sampler(rng)
        rows = arguments.get("Assign") if isinstance(arguments, dict) else None
        if not isinstance(rows, dict) or not rows:
            raise _Skip(f"{tool} draws no Assign row")
        return dict(next(iter(rows.values())))

    def _blueprint(self, key: str, category: str, rng: random.Random) -> dict[str, Any]:
        table = self.tables[key]
        if not self.startable(key):
            raise _Skip(
                f"its tools are over {MAX_TOOL_CHARS} characters each or {TOOL_BUDGET_CHARS} together"
            )
        refs = self.references(key)
        state: dict[str, dict[str, Any]] = {}
        for ref in refs:  # seed every table T refers to
            if ref.target not in state:
                rows = {}
                for i in range(1, _SEED_ROWS + 1):
                    row = self._row(self.tables[ref.target].post, rng)
                    row["NAME"] = (
                        f"{ref.target}{i}" if ref.holds == "name" else row.get("NAME", f"{ref.target}{i}")
                    )
                    rows[str(i)] = row
                state[ref.target] = rows
        if category == "long_context":  # a bigger model around the walk
            for other in rng.sample(sorted(self.tables), k=min(3, len(self.tables))):
                if other != key and other not in state:
                    state[other] = {str(i): self._row(self.tables[other].post, rng) for i in range(1, 11)}
        turns: list[dict[str, Any]] = []
        # a prerequisite is created in the conversation, then referenced -- one whose create tool fits;
        # a table whose tools are too long to offer stays seeded only
        room = TOOL_BUDGET_CHARS - self.own_chars(key)
        creatable = [
            r
            for r in refs
            if self.fits(self.tables[r.target].post) and self.tool_chars(self.tables[r.target].post) <= room
        ]
        if creatable:
            first = creatable[0]
            prerequisite = self._row(self.tables[first.target].post, rng)
            new_id = str(_SEED_ROWS + 1)
            if first.holds == "name":
                prerequisite["NAME"] = f"{first.target}{new_id}"
            turns.append(
                {"kind": "create", "tool": self.tables[first.target].post, "id": new_id, "row": prerequisite}
            )
            created = {first.target: (new_id, prerequisite)}
        else:
            created = {}
        row = self._row(table.post, rng)
        keyed = any(r.field == "@id" for r in refs)
        neighbours: dict[str, Any] = {}
        if not keyed and rng.random() < 0.5:  # rows of T already there: the user names ours by a property
            for neighbour_id in ("1", "2"):
                neighbour = self._row(table.post, rng)
                self._point(neighbour, refs, state, created, rng)
                neighbours[neighbour_id] = neighbour
        row_id = self._point(row, refs, state, created, rng) or str(len(neighbours) + 1)
        if neighbours:
            state[key] = neighbours
        turns.append({"kind": "create", "tool": table.post, "id": row_id, "row": row, "main": True})
        turns.append({"kind": "read", "tool": table.get, "id": row_id, "ids": [*neighbours, row_id]})
        # state-dependent: the row to change is a row that was already there, named by a property that
        # only it has, so its id comes from reading the table (the gold turn starts with that read)
        target, by = row_id, None
        for neighbour_id, neighbour in neighbours.items():
            others = [r for i, r in neighbours.items() if i != neighbour_id] + [row]
            if found := _distinguishing(neighbour, others):
                target, by = neighbour_id, found
                break
        update = self._row(table.put, rng)
        self._point(update, refs, state, created, rng, row_id=target)
        turns.append(
            {"kind": "update", "tool": table.put, "id": target, "row": update, "by": by, "get": table.get}
        )
        if category == "base" and rng.random() < 0.5:
            turns.append({"kind": "clear", "tool": table.delete})
            if len(turns) < 5 and rng.random() < 0.5:  # at most 5 user turns
                turns.append({"kind": "read", "tool": table.get, "id": None, "ids": []})
        called = [step["tool"] for step in turns] + [table.get]
        return {"table": key, "state": state, "turns": turns, "tools": self._offered(key, refs, called)}

    def _point(
        self,
        row: dict[str, Any],
        refs: list[Reference],
        state: dict[str, dict[str, Any]],
        created: dict[str, tuple[str, dict[str, Any]]],
        rng: random.Random,
        row_id: str | None = None,
    ) -> str | None:
        """Rewrite ``row``'s reference fields to rows that exist; the row id when a reference holds it."""
        chosen_id = row_id
        for ref in refs:
            ids = [*state.get(ref.target, {}), *([created[ref.target][0]] if ref.target in created else [])]
            names = [r.get("NAME") for r in state.get(ref.target, {}).values()]
            if ref.target in created:
                names.append(created[ref.target][1].get("NAME"))
            if ref.field == "@id":
                chosen_id = chosen_id or (ids[-1] if ref.target in created else rng.choice(ids))
                continue
            choices = ids if ref.holds == "id" else [n for n in names if n]
            # the walk: a dependent points at the prerequisite just created (first among its values)
            first = None
            if ref.target in created:
                first = created[ref.target][0] if ref.holds == "id" else created[ref.target][1].get("NAME")
            _rewrite(row, ref.field.split("."), ref, choices, rng, first)
        return chosen_id

    def _offered(self, key: str, refs: list[Reference], called: list[str]) -> list[str]:
        """T's four tools and its prerequisites' create and read tools, within the bounds above."""
        t = self.tables[key]
        tools = [t.post, t.get, t.put, t.delete]
        for ref in refs:
            target = self.tables[ref.target]
            for name in (target.post, target.get):
                if name not in tools and self.fits(name):
                    tools.append(name)
        spare = sorted((n for n in tools if n not in called), key=self.tool_chars)
        while sum(map(self.tool_chars, tools)) > TOOL_BUDGET_CHARS and spare:
            tools.remove(spare.pop())  # the largest tool nobody calls
        if (total := sum(map(self.tool_chars, tools))) > TOOL_BUDGET_CHARS:
            raise _Skip(f"the tools it calls take {total} characters, over {TOOL_BUDGET_CHARS}")
        return tools

    # ------------------------------------------------------------------------------------- render

    def _render(
        self, plan: dict[str, Any], language: str, category: str, rng: random.Random, variant: int
    ) -> Trajectory:
        messages: list[dict[str, Any]] = []
        turns: list[dict[str, Any]] = []
        missed: dict[str, list[str]] | None = None
        table = self.tables[plan["table"]]
        _, book = self.kit(table.get)
        for call_number, step in enumerate(plan["turns"], start=1):
            if step.get("main") and category in ("miss_param", "miss_func"):
                ask = book.names.en if language == "en" else book.names.ko
                if category == "miss_param":
                    user = (
                        f"I want to add a new {ask} record."
                        if language == "en"
                        else f"{ask} 하나 추가하고 싶어."
                    )
                    reply = "Which values should it have?" if language == "en" else "어떤 값으로 넣을까요?"
                    messages += [{"role": "user", "content": user}, {"role": "assistant", "content": reply}]
                    turns.append({"gold_calls": [], "outputs": []})
                    text = self._clause(step, language, rng, variant, call_number)
                else:
                    text = self._clause(step, language, rng, variant, call_number)
                    reply = (
                        f"I can't create {ask} records with the tools I have right now."
                        if language == "en"
                        else f"지금 가진 도구로는 {ask} 데이터를 만들 수 없습니다."
                    )
                    messages += [{"role": "user", "content": text}, {"role": "assistant", "content": reply}]
                    turns.append({"gold_calls": [], "outputs": []})
                    missed = {str(len(turns)): [step["tool"]]}
                    text = (
                        "It should work now, please try again."
                        if language == "en"
                        else "이제 될 거야, 다시 해줘."
                    )
            elif step.get("by"):
                text = self._by_property(step, language, table.key)
            else:
                text = self._clause(step, language, rng, variant, call_number)
            if not messages and category == "long_context":
                text = f"{_PREAMBLE[language]} {text}"
            calls = [{"name": step["tool"], "arguments": self._arguments(step)}]
            if step.get("by"):  # which row has that property is in the table, not in the words
                calls.insert(0, {"name": step["get"], "arguments": {}})
            outputs = [step["id"]] if step["kind"] == "read" and step["id"] else []
            messages.append({"role": "user", "content": text})
            for i, call in enumerate(calls):  # one after the other: a later call uses an earlier result
                tool_call = {"id": f"call_{call_number}_{i}", "type": "function", "function": call}
                messages.append({"role": "assistant", "tool_calls": [tool_call]})
            messages.append({"role": "assistant", "content": self._said(step, language, table.key)})
            turns.append({"gold_calls": calls, "outputs": outputs})
        record = {
            "id": f"gen-{plan['table']}-{category}-{language}-{rng.randrange(1 << 40):010x}-v{variant}",
            "spec": self.spec,
            "category": category,
            "language": language,
            "tools": [self.catalog[n].openai_schema() for n in plan["tools"]],
            "initial_state": plan["state"],
            "messages": messages,
            "turns": turns,
        }
        if missed:
            record["missed_function"] = missed
        return Trajectory.model_validate(record)

    def _arguments(self, step: dict[str, Any]) -> dict[str, Any]:
        if step["kind"] in ("create", "update"):
            return {"Assign": {step["id"]: step["row"]}}
        if step["kind"] == "clear":
            return {"Assign": {"1": {}}}
        return {}

    def _clause(
        self, step: dict[str, Any], language: str, rng: random.Random, variant: int, turn: int
    ) -> str:
        _, book = self.kit(step["tool"])
        clause = book.clause(self._arguments(step), language, rng)
        # variant v frames turn k with frame (v + k): two variants of one blueprint never read the same
        frames = _FRAMES[language]
        frame = frames[(variant + turn) % len(frames)]
        frame = _fitting_frame(frame, clause, language)
        text = frame.format(clause)
        return text[:1].upper() + text[1:] if language == "en" else text

    def _by_property(self, step: dict[str, Any], language: str, key: str) -> str:
        """An update that names its row by a property ("the ELEM row whose MATL is 3")."""
        _, book = self.kit(step["tool"])
        field, value = step["by"]
        values = book.describe(step["row"], book.shape.child("Assign").child(""), language)
        shown = render_scalar(value)
        if language == "en":
            return f"In the {key} row whose {field} is {shown}, set {values}."
        return f"{field} 값이 {shown}인 {key} 행을 찾아서 {values}(으)로 바꿔줘."

    def _said(self, step: dict[str, Any], language: str, key: str) -> str:
        if step["kind"] == "read":
            ids = ", ".join(step["ids"])
            if language == "en":
                return f"{key} holds rows {ids} now." if ids else f"{key} is empty now."
            return (
                f"{key} 테이블에는 지금 {ids}번 행이 있습니다."
                if ids
                else f"{key} 테이블은 이제 비어 있습니다."
            )
        if step.get("by"):
            return (
                f"That was row {step['id']}; it is updated."
                if language == "en"
                else f"{step['id']}번 행이었고, 변경했습니다."
            )
        return "Done." if language == "en" else "완료했습니다."


def _distinguishing(row: dict[str, Any], others: Any) -> tuple[str, Any] | None:
    """A top-level scalar field of ``row`` whose value no other row has (number or text, not a flag)."""
    others = list(others)
    for field, value in row.items():
        if isinstance(value, bool) or not isinstance(value, int | float | str) or value in ("", 0):
            continue
        if all(other.get(field) != value for other in others):
            return field, value
    return None


class _Skip(ValueError):
    """A table the walk cannot draw a blueprint for (the message says why)."""


def _rewrite(
    node: Any, segments: list[str], ref: Reference, choices: list[Any], rng: random.Random, first: Any = None
) -> None:
    """Replace the values at ``segments`` (``when`` honoured) with ``choices``, keeping each value's type."""
    if not isinstance(node, dict) or not segments or not choices:
        return
    head, rest = segments[0], segments[1:]
    many = head.endswith("[]")
    name = head[:-2] if many else head
    if name not in node:
        return
    if rest:
        items = node[name] if many and isinstance(node[name], list) else [node[name]]
        for item in items:
            _rewrite(item, rest, ref, choices, rng, first)
        return
    if ref.when and not all(node.get(k) in v for k, v in ref.when.items()):
        return
    if many and isinstance(node[name], list):
        values = node[name]
        others = [c for c in choices if c != first]
        picked = ([first] if first is not None else []) + rng.sample(others, k=min(len(values), len(others)))
        node[name] = [_typed(old, new) for old, new in zip(values, picked, strict=False)]
    elif node[name] not in ("", 0, None):
        node[name] = _typed(node[name], first if first is not None else rng.choice(choices))


def _typed(old: Any, new: Any) -> Any:
    if isinstance(old, int) and not isinstance(old, bool):
        return int(new)
    if isinstance(old, float):
        return float(new)
    return str(new)
