"""What a tool is called, in English and Korean, and what kind of request it answers.

Queries must tell tools apart: two tools that a query names alike cannot both be offered when one of them
is the answer (see :mod:`generators.plan`). So every tool gets its *own* name per language, never one
generic noun for many tools:

* **English** -- the resource named by the operation's summary with its leading verb and the word
  "records" removed (GEN NX: "Create Node (NODE) records" -> "Node (NODE)"); without a summary, the
  operationId's words, else the path's last literal segments. Each of these differs per endpoint.
* **Korean** -- the spec's own name where it states one: the bundled GEN NX spec carries
  ``x-callforge-names`` on every path item and repeats the Korean name as the first sentence of each
  operation's description ("Korean name: 절점. ..."), which is the part ingestion keeps in the Tool.
  Without one, the English name (Korean API users write an API's English resource names as they are).
* **kind** -- ``create`` / ``update`` / ``get`` / ``delete`` by HTTP method; ``clear`` for a DELETE whose
  call cannot vary (GEN NX's whole-table delete: the live server empties the table whatever ids are sent);
  ``action`` for commands (POST outside a table-like path whose summary does not start with a
  create verb).

    names = tool_names(tool)
    names.en, names.ko, names.kind   # "Node (NODE)", "절점", "create"
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from schemas.models import Tool

_KO_MARK = re.compile(r"Korean name: ([^.\n]{1,60})\.")
_VERB_PREFIX = re.compile(
    r"^(create|add|insert|register|define|update|modify|change|edit|set|delete|remove|clear|get|retrieve|"
    r"read|list|fetch|show|return|find|search)(s|es)?\s+(all\s+|a\s+|an\s+|the\s+|one\s+|new\s+)*",
    re.IGNORECASE,
)
_CREATE_WORDS = ("create", "add", "insert", "register", "define", "new", "upload", "make")
_METHOD_KIND = {"GET": "get", "PUT": "update", "PATCH": "update", "DELETE": "delete", "HEAD": "get"}
_SPLIT_ID = re.compile(r"[_\-\s.]+|(?<=[a-z])(?=[A-Z])")


_INTENT_VERBS = frozenset(
    [
        "create",
        "add",
        "insert",
        "register",
        "define",
        "assign",
        "update",
        "modify",
        "change",
        "edit",
        "set",
        "delete",
        "remove",
        "clear",
        "get",
        "retrieve",
        "read",
        "list",
        "return",
        "fetch",
        "show",
        "display",
        "run",
        "perform",
        "execute",
        "export",
        "import",
        "save",
        "open",
        "close",
        "apply",
        "calculate",
        "compute",
        "generate",
        "upload",
        "download",
        "send",
        "check",
        "find",
        "search",
        "replace",
        "load",
        "capture",
        "make",
        "build",
        "start",
        "stop",
        "reset",
        "copy",
        "move",
        "rename",
        "query",
        "select",
        "exit",
        "cancel",
        "divide",
        "auto-mesh",
        "look",
        "describe",
        "summarise",
        "summarize",
    ]
)
_KIND_VERB_EN = {"create": "create", "update": "update", "get": "get", "delete": "delete", "clear": "clear"}
# A Korean command name that ends in an action noun is asked for with 해줘 ("구조 해석 실행해줘").
_KO_ACTION_NOUNS = (
    "실행", "저장", "조회", "종료", "시작", "확인", "출력", "생성", "분할", "적용", "지정", "변경", "산출",
    "계산", "검색", "변환", "취소", "요약", "캡처", "설정", "표시", "요청", "연산", "활성화", "기",
)  # fmt: skip
_KO_KIND_GROUP = {"clear": "delete"}
_TRAILING_PAREN = re.compile(r"\([^)]*\)$")


@dataclass(frozen=True)
class ToolNames:
    en: str  # the resource or command, as a query names it ("Node (NODE)", "pet", "analysis run")
    ko: str
    kind: str  # create | update | get | delete | clear | action
    summary: str  # the summary line, "" when the spec gives none
    table: bool = False  # a table-like resource (GEN NX /db/*): its Korean name is a noun, never a request

    @property
    def intent_en(self) -> str:
        """The English request ("create Node (NODE) records", "run the analysis")."""
        if self.kind == "clear":
            return f"clear all {self.en} records"
        if self.summary:
            first = self.summary.split()[0]
            verb = _base_verb(first)
            if verb in _INTENT_VERBS:
                return verb + self.summary[len(first) :]
            lowered = (
                self.summary if self.summary[1:2].isupper() else self.summary[:1].lower() + self.summary[1:]
            )
            return f"{_KIND_VERB_EN.get(self.kind, 'run')} the {lowered}"
        return f"{_KIND_VERB_EN.get(self.kind, 'run')} the {self.en}"

    @property
    def ko_action(self) -> bool:
        """Whether the Korean name is itself a request ("구조 해석 실행"), asked for with 해줘."""
        if self.table or self.kind not in ("action", "get"):
            return False
        return _TRAILING_PAREN.sub("", self.ko).strip().endswith(_KO_ACTION_NOUNS)

    @property
    def ko_label(self) -> tuple[str, str]:
        """What a Korean query says: the name, and the verb group unless the name is the request."""
        if self.ko_action:
            return ("action", self.ko)
        return (_KO_KIND_GROUP.get(self.kind, self.kind), self.ko)


def _base_verb(word: str) -> str:
    lowered = word.lower()
    for candidate in (lowered, lowered[:-1], lowered[:-2], lowered[:-3] + "y"):
        if candidate in _INTENT_VERBS and (candidate == lowered or lowered.endswith("s")):
            return candidate
    return lowered


def _summary(tool: Tool) -> str:
    first = (tool.description or "").strip().split("\n", 1)[0].strip()
    if first.startswith("Korean name:"):  # no summary: the description starts with our marker
        return ""
    return first.rstrip(".") if len(first.split()) <= 16 else ""


def _from_operation_id(operation_id: str, method: str) -> str:
    words = [w.lower() for w in _SPLIT_ID.split(operation_id) if w]
    if words and words[0] in (method.lower(), *_CREATE_WORDS, "list", "get", "update", "delete", "remove"):
        words = words[1:]
    return " ".join(words)


def _from_path(path: str) -> str:
    literal = [s for s in path.split("/") if s and not s.startswith("{")]
    return " ".join(literal[-2:]) if literal else path


def english_name(tool: Tool) -> str:
    summary = _summary(tool)
    if summary:
        name = _VERB_PREFIX.sub("", summary).strip()
        name = re.sub(r"\s+records?$", "", name).strip()
        if name:
            return name
    operation_id = tool.source.operation_id or ""
    if operation_id:
        name = _from_operation_id(operation_id, tool.binding.method)
        if name:
            return name
    return _from_path(tool.binding.path)


def korean_name(tool: Tool, english: str) -> str:
    found = _KO_MARK.search(tool.description or "")
    return found.group(1).strip() if found else english


def takes_no_values(schema: Any, depth: int = 0) -> bool:
    """True when every call of this schema is the same (``{}``, or objects of fixed/empty parts)."""
    if not isinstance(schema, dict) or depth > 20:
        return True
    if "const" in schema:
        return True
    if "enum" in schema:
        return len(schema["enum"]) <= 1
    if "$ref" in schema or "items" in schema or "patternProperties" in schema:
        return False
    if any(schema.get(k) for k in ("oneOf", "anyOf", "allOf")):
        return False
    props = schema.get("properties") or {}
    if not props and isinstance(schema.get("additionalProperties"), dict):
        return False
    if schema.get("type", "object") != "object":
        return False
    if schema.get("maxProperties") == 0:
        return True
    return all(takes_no_values(s, depth + 1) for s in props.values())


def _resolved(parameters: dict[str, Any]) -> dict[str, Any]:
    """``parameters`` with top-level property ``$ref``s into its ``$defs`` followed once (enough to see
    a fixed body such as GEN NX's DeleteRows)."""
    defs = parameters.get("$defs") or parameters.get("definitions") or {}
    props = {}
    for key, sub in (parameters.get("properties") or {}).items():
        ref = sub.get("$ref", "") if isinstance(sub, dict) else ""
        name = ref.rsplit("/", 1)[-1] if ref.startswith("#/") else ""
        props[key] = {**defs[name], **{k: v for k, v in sub.items() if k != "$ref"}} if name in defs else sub
    return {**parameters, "properties": props}


def request_kind(tool: Tool) -> str:
    method = tool.binding.method
    if method == "DELETE":
        return "clear" if takes_no_values(_resolved(tool.parameters)) else "delete"
    if method in _METHOD_KIND:
        return _METHOD_KIND[method]
    summary = _summary(tool).lower()
    path = tool.binding.path.lower()
    if summary.startswith(_CREATE_WORDS) or path.startswith("/db/"):
        return "create"
    return "action"


def tool_names(tool: Tool) -> ToolNames:
    english = english_name(tool)
    table = tool.binding.path.lower().startswith("/db/")
    return ToolNames(english, korean_name(tool, english), request_kind(tool), _summary(tool), table)
