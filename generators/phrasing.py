"""Natural-language queries, in English and Korean, that state every argument value of a call.

A :class:`Phrasebook` is built once per tool from its names (:mod:`generators.names`: each tool's own
English and Korean name and request kind), HTTP method and parameter schemas. ``clause(arguments,
language, rng)`` renders one call as an imperative sentence; every leaf value (and every map key, e.g. a
GEN NX node id) appears in the text verbatim -- strings quoted, numbers as Python prints them, booleans
as ``true``/``false`` -- so a grounding check can find each one.

English takes the intent from the tool's summary ("Create Node (NODE) records"); Korean names the tool by
its Korean name and picks a verb by request kind (create -> 추가해줘, get -> 조회해줘, a whole-table
clear -> 모두 삭제해줘, a command whose name ends in an action noun -> "구조 해석 실행해줘"). Fields are
labelled by their keys, as GEN NX users write them ("X 0, Y 3").

Nested values have one rendering path per language (:meth:`Phrasebook.describe`): an id-keyed map is
"NODE 12 (X 0, Y 3)" / "12번(X 0, Y 3)", a list of objects is bracketed with ordinal items
("[first: A 1; second: A 2]" / "[첫째: A 1; 둘째: A 2]"), so a parent's later keys never read as part of
the last item, and an empty item is said to be empty rather than left out.
"""

from __future__ import annotations

import random
import re
from typing import Any

from generators.names import tool_names
from generators.values import SchemaCompiler
from schemas.models import Tool

# How an English request for a call without arguments is framed ("{intent}" is the tool's intent).
# Each also reads well as one clause of a longer request ("please X, then Y").
_EN_BARE_FRAMES = (
    "{intent}",
    "please {intent}",
    "I need you to {intent}",
    "{intent}, please",
)
_EN_CLEAR = ("clear all {en} records", "delete every {en} record", "delete all {en} records")

KO_VERBS = {
    "create": (("추가해줘", "생성해줘", "입력해줘"), "추가"),
    "update": (("수정해줘", "변경해줘", "업데이트해줘"), "수정"),
    "get": (("조회해줘", "보여줘", "불러와줘"), "조회"),
    "delete": (("삭제해줘", "지워줘"), "삭제"),
    "action": (("실행해줘", "수행해줘"), "실행"),
}
_KO_CLEAR = ("{ko}{p} 모두 삭제해줘", "{ko} 데이터를 전부 지워줘", "{ko} 전체 삭제 부탁해")
_EN_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth")
_KO_ORDINALS = ("첫째", "둘째", "셋째", "넷째", "다섯째", "여섯째", "일곱째", "여덟째")
_EN_COUNTS = {2: "two", 3: "three", 4: "four", 5: "five"}
_KO_COUNTS = {2: "두", 3: "세", 4: "네", 5: "다섯"}
_PAREN = re.compile(r"\([^)]*\)$")
_CLAUSE_SPLIT = re.compile(r"[.;:(\n]| - | where | which | that ")


def render_scalar(value: Any) -> str:
    """How a leaf value is written in a query (the grounding check looks for exactly this)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


def object_particle(word: str) -> str:
    """을 or 를 after ``word`` (을(를) when the last letter is not Hangul)."""
    last = word.rstrip()[-1:] or "x"
    if "가" <= last <= "힣":
        return "을" if (ord(last) - 0xAC00) % 28 else "를"
    return "을(를)"


def _short(text: str, max_words: int) -> str:
    first = _CLAUSE_SPLIT.split(text.strip(), maxsplit=1)[0].strip().rstrip(",")
    return first if 0 < len(first.split()) <= max_words else ""


def _ordinal(index: int, language: str) -> str:
    words = _KO_ORDINALS if language == "ko" else _EN_ORDINALS
    if index < len(words):
        return words[index]
    return f"{index + 1}번째" if language == "ko" else f"item {index + 1}"


class Phrasebook:
    """How one tool is talked about. Build once per tool; ``clause`` is called per sample."""

    def __init__(self, tool: Tool) -> None:
        self.tool = tool
        self.names = tool_names(tool)
        self._schemas = SchemaCompiler(tool.parameters)
        self.shape = _Shape(self, tool.parameters, "")
        words = [s for s in tool.binding.path.split("/") if s and not s.startswith("{")]
        self.resource = words[-1] if words else tool.name
        kind = self.names.kind
        self.intent_en = self.names.intent_en
        self.resource_ko = self.names.ko
        self.ko_action = self.names.ko_action
        self.ko_verbs, self.ko_noun = KO_VERBS["delete" if kind == "clear" else kind]

    # -- schema lookup, compiled lazily into shapes ----------------------------------------------------

    def resolve(self, schema: Any) -> dict[str, Any]:
        """``schema`` with local ``$ref``s followed and ``allOf`` merged."""
        if not isinstance(schema, dict):
            return {}
        for _ in range(8):
            if "$ref" not in schema:
                break
            schema = {
                **(self._schemas.resolve(schema["$ref"]) or {}),
                **{k: v for k, v in schema.items() if k != "$ref"},
            }
        return self._schemas.merge_all_of(schema)

    # -- rendering ----------------------------------------------------------------------------------

    def describe(self, value: Any, shape: _Shape, language: str, top: bool = False) -> str:
        """``value`` (whatever its shape) as words; every leaf appears verbatim. ``top``: ``value`` is the
        whole argument set, whose map or undescribed wrapper (GEN NX ``Assign``, ``Argument``) goes
        unnamed; deeper objects are always named by their key, so two nested NAMEs stay apart."""
        if isinstance(value, dict):
            if not value:
                return ""
            if shape.is_map(value):
                item = shape.child("")
                entries = []
                for key, sub_value in value.items():
                    text = self.describe(sub_value, item, language)
                    if language == "ko":
                        entries.append(f"{key}번({text})" if text else f"{key}번")
                    else:
                        entries.append(
                            f"{self.resource} {key} ({text})" if text else f"{self.resource} {key}"
                        )
                return ", ".join(entries)
            # Empty objects and lists carry no value to state ({"Argument": {}} is just "run it").
            keys = [k for k, v in value.items() if not (isinstance(v, dict | list) and not v)]
            children = [shape.child(k) for k in keys]
            labels = (
                keys if language == "ko" else [c.label_en or k for c, k in zip(children, keys, strict=True)]
            )
            if len(set(labels)) < len(labels):  # two fields described alike: name them by key
                labels = keys
            parts = []
            for key, child, label in zip(keys, children, labels, strict=True):
                sub_value = value[key]
                text = self.describe(sub_value, child, language)
                if not isinstance(sub_value, dict):
                    parts.append(f"{label} {text}")
                elif not text:
                    continue  # a fixed part with nothing to state (a whole-table DELETE's placeholder row)
                elif top and (child.is_map(sub_value) or not child.described):
                    parts.append(text)  # the body's wrapper (GEN NX Assign, Argument): no label
                else:
                    parts.append(f"{label} ({text})")
            return ", ".join(p for p in parts if p)
        if isinstance(value, list):
            if not value:
                return "[]"
            items = shape.items()
            if not any(isinstance(v, dict | list) for v in value):
                return "[" + ", ".join(self.describe(v, items, language) for v in value) + "]"
            empty = "빈 항목" if language == "ko" else "an empty item"
            rendered = [self.describe(v, items, language) or empty for v in value]
            return (
                "[" + "; ".join(f"{_ordinal(i, language)}: {text}" for i, text in enumerate(rendered)) + "]"
            )
        return render_scalar(value)

    def rows(self, arguments: dict[str, Any]) -> set[tuple[str, ...]]:
        """The rows a call touches: each key of an id-keyed map, with the path to that map
        (``{"Assign": {"3": {...}}}`` -> ``{("Assign", "3")}``). Two calls that share one write it twice."""
        found: set[tuple[str, ...]] = set()

        def walk(value: Any, shape: _Shape, path: tuple[str, ...]) -> None:
            if not isinstance(value, dict) or len(path) > 6:
                return
            if shape.is_map(value):
                found.update((*path, str(key)) for key in value)
                return
            for key, sub in value.items():
                walk(sub, shape.child(key), (*path, key))

        walk(arguments, self.shape, ())
        return found

    def arguments(self, arguments: dict[str, Any], language: str) -> str:
        return self.describe(arguments, self.shape, language, top=True) if arguments else ""

    def _ko_request(self, rng: random.Random) -> tuple[str, str]:
        """(what is asked for, the verb) in Korean: ("절점을", "추가해줘") or ("구조 해석", "실행해줘")."""
        res = self.resource_ko
        if self.ko_action:
            return res, (" 해줘" if _PAREN.sub("", res).strip().endswith("기") else "해줘")
        return f"{res}{object_particle(res)}", " " + rng.choice(self.ko_verbs)

    def _ko_subject(self) -> str:
        """The request as a noun phrase: "절점 추가", "구조 해석 실행"."""
        return self.resource_ko if self.ko_action else f"{self.resource_ko} {self.ko_noun}"

    def clause(self, arguments: dict[str, Any], language: str, rng: random.Random) -> str:
        """One call as a request, e.g. "create Node (NODE) records with NODE 12 (X 0, Y 3, Z 0)"."""
        args = self.arguments(arguments, language)
        kind = self.names.kind
        if language == "ko":
            if kind == "clear" and not args:
                res = self.resource_ko
                return rng.choice(_KO_CLEAR).format(ko=res, p=object_particle(res))
            what, verb = self._ko_request(rng)
            if not args:
                return f"{what}{verb}"
            form = rng.randrange(3)
            if form == 0:
                return f"다음 값으로 {what}{verb}: {args}"
            if form == 1:
                return f"{self._ko_subject()} 부탁해 - {args}"
            return f"{args} 조건으로 {what}{verb}"
        intent = self.intent_en
        if kind == "clear" and not args:
            intent = rng.choice(_EN_CLEAR).format(en=self.names.en)
        if not args:
            # No values to vary, so vary the framing: a tool without arguments is asked for several times.
            return rng.choice(_EN_BARE_FRAMES).format(intent=intent)
        glue = rng.choice((" with ", " using ", ": "))
        return f"{intent}{glue}{args}"

    def repeated(self, calls: list[dict[str, Any]], language: str, rng: random.Random) -> str:
        """Several calls of this tool (parallel style) in one request: one request per set of values."""
        listed = [self.arguments(a, language) or "-" for a in calls]
        n = len(calls)
        if language == "ko":
            what, verb = self._ko_request(rng)
            count = _KO_COUNTS.get(n, str(n))
            if rng.random() < 0.5:
                items = "; ".join(f"{_ordinal(i, 'ko')} {text}" for i, text in enumerate(listed))
                return f"{self._ko_subject()} 요청을 {count} 번으로 나눠서 보내줘 - {items}"
            rest = ", ".join(listed[1:])
            return f"{listed[0]} 조건으로 {what}{verb}. {rest} 조건으로도 각각 따로 요청해줘"
        intent = self.intent_en
        count = _EN_COUNTS.get(n, str(n))
        if rng.random() < 0.5:
            items = "; ".join(f"{_ordinal(i, 'en')} {text}" for i, text in enumerate(listed))
            return f"{intent} in {count} separate requests: {items}"
        rest = " and ".join(f"with {text}" for text in listed[1:])
        return f"{intent} with {listed[0]}, and send a separate request {rest}"


class _Shape:
    """What rendering needs to know about one schema node, worked out once and reused.

    Children are built on first use, so a recursive schema costs only as deep as values go.
    """

    __slots__ = (
        "_book", "_children", "_items", "_node", "described", "has_one_of", "label_en", "map_like", "prop_names",
    )  # fmt: skip

    def __init__(self, book: Phrasebook, schema: Any, key: str) -> None:
        node = book.resolve(schema)
        self._book = book
        self._node = node
        self._children: dict[str, _Shape] = {}
        self._items: _Shape | None = None
        branches = [node, *(book.resolve(b) for k in ("oneOf", "anyOf") for b in node.get(k, []))]
        self.prop_names = {name for b in branches for name in (b.get("properties") or {})}
        self.has_one_of = bool(node.get("oneOf"))
        # Only a schema that declares id-keyed entries is rendered as a map ("NODE 12 (...)"); an
        # undeclared key of a row is a field, never an id (that once printed "Y_VAR번(80)").
        self.map_like = any(
            isinstance(b.get("additionalProperties"), dict)
            or b.get("patternProperties")
            or b.get("propertyNames")
            for b in branches
        )
        self.described = bool(node.get("description"))
        short = _short(str(node.get("description") or node.get("title") or ""), 5)
        self.label_en = short[:1].lower() + short[1:] if short and not short[:2].isupper() else short

    def is_map(self, value: dict[str, Any]) -> bool:
        """A dict keyed by ids (map values), not by declared property names."""
        return bool(value) and self.map_like and not self.has_one_of and self.prop_names.isdisjoint(value)

    def child(self, key: str) -> _Shape:
        """The shape of ``key`` (a declared property, or else the map's value schema under ``""``)."""
        if key not in self.prop_names:
            key = ""
        found = self._children.get(key)
        if found is None:
            found = _Shape(self._book, self._child_schema(key), key)
            self._children[key] = found
        return found

    def _child_schema(self, key: str) -> Any:
        book, node = self._book, self._node
        if key:
            for branch in [node, *node.get("oneOf", []), *node.get("anyOf", [])]:
                props = book.resolve(branch).get("properties") or {}
                if key in props:
                    return props[key]
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            return extra
        if node.get("patternProperties"):
            return next(iter(node["patternProperties"].values()))
        return {}

    def items(self) -> _Shape:
        if self._items is None:
            self._items = _Shape(self._book, self._node.get("items", {}), "")
        return self._items
