"""Natural-language queries, in English and Korean, that state every argument value of a call.

A :class:`Phrasebook` is built once per tool from its description, HTTP method, path and parameter
schemas. ``clause(arguments, language, rng)`` renders one call as an imperative sentence; every leaf
value (and every map key, e.g. a GEN NX node id) appears in the text verbatim -- strings quoted,
numbers as Python prints them, booleans as ``true``/``false`` -- so a grounding check can find each one.

English takes the intent from the tool's description ("Create nodes in the model" -> "create nodes in
the model"); Korean takes a noun from a small structural-engineering glossary (path segment or
description keyword, e.g. NODE -> 절점) and a verb from the HTTP method (POST -> 추가해줘, GET ->
조회해줘, …), and labels fields by their keys, as GEN NX users write them ("X 0, Y 3").
"""

from __future__ import annotations

import random
import re
from typing import Any

from generators.values import SchemaCompiler
from schemas.models import Tool

_CLAUSE_SPLIT = re.compile(r"[.;:(\n]| - | where | which | that ")
_VERB_FORMS = {
    "create", "add", "insert", "register", "define", "assign", "update", "modify", "change", "edit", "set",
    "delete", "remove", "clear", "get", "retrieve", "read", "list", "return", "fetch", "show", "display",
    "run", "perform", "execute", "export", "import", "save", "open", "close", "apply", "calculate",
    "compute", "generate", "upload", "download", "send", "check", "find", "search", "replace", "load",
    "capture", "make", "build", "start", "stop", "reset", "copy", "move", "rename", "query", "select",
}  # fmt: skip
# How an English request for a call without arguments is framed ("{intent}" is the tool's intent).
# Each also reads well as one clause of a longer request ("please X, then Y").
_EN_BARE_FRAMES = (
    "{intent}",
    "please {intent}",
    "I need you to {intent}",
    "go ahead and {intent}",
    "now {intent}",
)
_CREATE_VERBS = {"create", "add", "insert", "register", "define", "assign", "make", "build"}
_METHOD_VERBS = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "update", "DELETE": "delete"}

KO_VERBS = {
    "create": (("추가해줘", "생성해줘", "만들어줘"), "추가"),
    "update": (("수정해줘", "변경해줘", "업데이트해줘"), "수정"),
    "get": (("조회해줘", "보여줘", "불러와줘"), "조회"),
    "delete": (("삭제해줘", "지워줘"), "삭제"),
    "action": (("실행해줘", "수행해줘"), "실행"),
}
# Path segments and description words of structural-analysis APIs (GEN NX first), longest match wins.
KO_GLOSSARY = {
    "NODE": "절점", "ELEM": "요소", "MATL": "재료", "SECT": "단면", "THIK": "두께", "CONS": "지점 경계조건",
    "STLD": "정적 하중 케이스", "BODF": "자중", "CNLD": "절점 하중", "BMLD": "보 하중", "PRES": "압력 하중",
    "GRUP": "구조 그룹", "BNGR": "경계 그룹", "LDGR": "하중 그룹", "UNIT": "단위계", "PJCF": "프로젝트 정보",
    "STOR": "층 정보", "LCOM": "하중 조합", "ANAL": "해석", "SPRG": "스프링 지점", "ELNK": "탄성 연결",
    "RIGD": "강체 연결", "NMAS": "절점 질량", "TABLE": "결과 표", "CAPTURE": "화면 캡처",
    "load combination": "하중 조합", "load case": "하중 케이스", "boundary": "경계조건", "support": "지점",
    "material": "재료", "section": "단면", "element": "요소", "node": "절점", "analysis": "해석",
    "thickness": "두께", "result": "결과", "project": "프로젝트", "group": "그룹", "story": "층",
    "spring": "스프링", "mass": "질량", "pressure": "압력", "load": "하중", "beam": "보", "file": "파일",
    "unit": "단위계", "view": "화면", "table": "표",
}  # fmt: skip
_GLOSSARY_WORDS = sorted((k for k in KO_GLOSSARY if not k.isupper()), key=len, reverse=True)


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


def _third_to_base(word: str) -> str:
    lowered = word.lower()
    for candidate in (lowered, lowered[:-1], lowered[:-2], lowered[:-3] + "y"):
        if candidate in _VERB_FORMS and (candidate == lowered or lowered.endswith("s")):
            return candidate
    return lowered


def _short(text: str, max_words: int) -> str:
    first = _CLAUSE_SPLIT.split(text.strip(), maxsplit=1)[0].strip().rstrip(",")
    return first if 0 < len(first.split()) <= max_words else ""


class Phrasebook:
    """How one tool is talked about. Build once per tool; ``clause`` is called per sample."""

    def __init__(self, tool: Tool) -> None:
        self.tool = tool
        self._schemas = SchemaCompiler(tool.parameters)
        self.shape = _Shape(self, tool.parameters, "")
        method = tool.binding.method
        words = [s for s in tool.binding.path.split("/") if s and not s.startswith("{")]
        self.resource = words[-1] if words else tool.name
        description = (tool.description or "").strip()
        first = _short(description, 14)
        verb = _third_to_base(first.split()[0]) if first else ""
        if first and verb in _VERB_FORMS:
            self.intent_en = verb + first[len(first.split()[0]) :]
        else:
            noun = first[:1].lower() + first[1:] if first else " ".join(words) or tool.name
            self.intent_en = f"{_METHOD_VERBS.get(method, 'call')} the {noun}"
            verb = _METHOD_VERBS.get(method, "action")
        kind = {"GET": "get", "PUT": "update", "PATCH": "update", "DELETE": "delete"}.get(method)
        if kind is None:
            kind = "create" if (verb in _CREATE_VERBS or "/db/" in tool.binding.path.lower()) else "action"
        self.ko_verbs, self.ko_noun = KO_VERBS[kind]
        self.resource_ko = self._korean_resource(description)

    def _korean_resource(self, description: str) -> str:
        upper = self.resource.upper()
        if upper in KO_GLOSSARY:
            return KO_GLOSSARY[upper]
        lowered = description.lower()
        for word in _GLOSSARY_WORDS:
            if word in lowered:
                return KO_GLOSSARY[word]
        return f"{self.resource} 항목"

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

    def describe(self, value: Any, shape: _Shape, language: str) -> str:
        """``value`` (whatever its shape) as words; every leaf appears verbatim."""
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
                elif child.is_map(sub_value) or not child.described:
                    parts.append(text)  # a map or an undescribed wrapper (GEN NX Assign, Argument): no label
                else:
                    parts.append(f"{label} ({text})")
            return ", ".join(p for p in parts if p)
        if isinstance(value, list):
            if not value:
                return "[]"
            items = shape.items()
            rendered = [self.describe(v, items, language) for v in value]
            if isinstance(value[0], dict | list) or any(isinstance(v, dict | list) for v in value):
                return "; ".join(f"[{i}] {text}" for i, text in enumerate(rendered, 1) if text)
            return "[" + ", ".join(rendered) + "]"
        return render_scalar(value)

    def arguments(self, arguments: dict[str, Any], language: str) -> str:
        return self.describe(arguments, self.shape, language) if arguments else ""

    def clause(self, arguments: dict[str, Any], language: str, rng: random.Random) -> str:
        """One call as a request, e.g. "create nodes in the model with NODE 12 (X 0, Y 3, Z 0)"."""
        args = self.arguments(arguments, language)
        if language == "ko":
            verb = rng.choice(self.ko_verbs)
            res = self.resource_ko
            if not args:
                return f"{res}{object_particle(res)} {verb}"
            form = rng.randrange(3)
            if form == 0:
                return f"{res}{object_particle(res)} 다음 값으로 {verb}: {args}"
            if form == 1:
                return f"{res} {self.ko_noun} 부탁해 - {args}"
            return f"{args} 조건으로 {res}{object_particle(res)} {verb}"
        if not args:
            # No values to vary, so vary the framing: a tool without arguments is asked for several times.
            return rng.choice(_EN_BARE_FRAMES).format(intent=self.intent_en)
        glue = rng.choice((" with ", " using ", ": "))
        return f"{self.intent_en}{glue}{args}"

    def repeated(self, calls: list[dict[str, Any]], language: str, rng: random.Random) -> str:
        """Several calls of this tool (parallel style) in one request, numbered."""
        listed = "; ".join(f"({i}) {self.arguments(a, language) or '-'}" for i, a in enumerate(calls, 1))
        if language == "ko":
            noun = self.ko_noun
            return f"{self.resource_ko} {noun}{object_particle(noun)} {len(calls)}번 각각 따로 해줘: {listed}"
        return f"{self.intent_en}, {len(calls)} separate times: {listed}"


class _Shape:
    """What rendering needs to know about one schema node, worked out once and reused.

    Children are built on first use, so a recursive schema costs only as deep as values go.
    """

    __slots__ = ("_book", "_children", "_items", "_node", "described", "has_one_of", "label_en", "prop_names")

    def __init__(self, book: Phrasebook, schema: Any, key: str) -> None:
        node = book.resolve(schema)
        self._book = book
        self._node = node
        self._children: dict[str, _Shape] = {}
        self._items: _Shape | None = None
        branches = [node, *(book.resolve(b) for k in ("oneOf", "anyOf") for b in node.get(k, []))]
        self.prop_names = {name for b in branches for name in (b.get("properties") or {})}
        self.has_one_of = bool(node.get("oneOf"))
        self.described = bool(node.get("description"))
        short = _short(str(node.get("description") or node.get("title") or ""), 5)
        self.label_en = short[:1].lower() + short[1:] if short and not short[:2].isupper() else short

    def is_map(self, value: dict[str, Any]) -> bool:
        """A dict keyed by ids (map values), not by declared property names."""
        return bool(value) and not self.has_one_of and self.prop_names.isdisjoint(value)

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
