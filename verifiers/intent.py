"""What a query asks for, read from its words: actions, requests, questions, and values it rules out.

Four readings the semantic verifier uses (English and Korean), each a plain function of the query:

* ``actions(text)`` — the action classes its verbs name (``create``, ``update``, ``delete``, ``read``,
  ``open``, ``save``, ``saveas``, ``run`` …); ``tool_action(tool)`` is the class of a tool, from its
  summary's leading verb (else its HTTP method). Tool choice compares the two.
* ``request_count(text)`` — how many separate requests it makes: clauses joined by "and then",
  ", then", "and <verb>", "그리고", "…한 다음", "…하고", each naming an action and none of them a
  statement of what is already so.
* ``explanation_question(text)`` — a question that wants an answer in words ("what does … mean",
  "how do I …", "차이가 뭐야"), and ``plain_question(text)``, any question that is not a polite request.
* ``not_wanted_spans(text)`` — character spans of the folded text whose values the query rules out:
  the sentence that says something is "already" so (이미), "not X" / "X 말고" / "X가 아니라", "don't".

They are heuristics with a bias to abstain: a reading that finds nothing changes no verdict.
"""

from __future__ import annotations

import re

from schemas.models import Tool
from verifiers.lexicon import fold

# English verb (or phrase) -> action class. Phrases are matched on word boundaries of the folded text.
_EN_ACTIONS: dict[str, tuple[str, ...]] = {
    "saveas": ("save as", "save it as", "save the project as", "save the model as", "save this as",
               "keep a copy", "save a copy", "under a new name", "under another name", "save under"),
    "new": ("new project", "start a new", "start fresh", "new model", "new file"),
    "open": ("open", "opens", "load the model", "load the file", "load the project", "load model",
             "load my model", "load this model"),
    "create": ("add", "adds", "create", "creates", "make", "define", "place", "put", "insert", "apply",
               "assign", "give", "connect", "span", "pin", "fix", "support", "hang", "generate", "build",
               "set up", "introduce", "group"),
    "update": ("move", "shift", "relocate", "change", "changes", "modify", "update", "updates", "edit",
               "rename", "raise", "lower", "go up", "go down", "adjust", "replace"),
    "delete": ("delete", "deletes", "remove", "wipe", "erase", "clear", "drop"),
    "read": ("show", "list", "get", "read", "display", "view", "see", "fetch", "retrieve", "what are",
             "which", "how many", "tell me", "returns", "summarise", "summarize", "report", "look up"),
    "save": ("save", "saves"),
    "export": ("export", "exports"),
    "import": ("import", "imports"),
    "close": ("close", "closes"),
    "run": ("run", "analyse", "analyze", "solve", "start the analysis", "starts"),
    "exit": ("exit", "quit"),
    "capture": ("capture", "screenshot", "snapshot"),
    "set": ("set", "sets", "rotate", "switch", "turn"),
    "activate": ("activate",),
    "status": ("check", "status"),
}  # fmt: skip
# Korean stems (a token starting with one names the action; endings and particles follow).
_KO_ACTIONS: dict[str, tuple[str, ...]] = {
    "saveas": ("다른이름으로", "다른 이름으로", "사본"),
    "new": ("새 프로젝트", "새프로젝트", "새 모델"),
    "open": ("열어", "열고", "열기", "열어줘", "불러와", "불러오"),
    "create": ("추가", "생성", "만들", "만드", "정의", "입력", "넣어", "넣고", "등록", "고정해", "잇는"),
    "update": ("수정", "변경", "바꾸", "바꿔", "이동", "옮기", "옮겨", "갱신"),
    "delete": ("삭제", "제거", "지우", "지워"),
    "read": ("보여", "조회", "확인", "알려", "목록"),
    "save": ("저장",),
    "export": ("내보내",),
    "import": ("가져오", "가져와"),
    "close": ("닫",),
    "run": ("실행", "돌려", "돌리", "돌린", "수행", "해석해"),
    "exit": ("종료",),
    "capture": ("캡처",),
}
# Verbs that, after "and", open a second request ("… and run the analysis"); nouns that double as
# verbs (load, support, group, list) are left out so "nodes and supports" stays one request.
_AND_VERBS = (
    "add", "create", "make", "define", "move", "delete", "remove", "show", "open", "save", "export",
    "import", "run", "analyse", "analyze", "close", "start", "capture", "rotate", "activate", "connect",
    "apply", "fix", "pin", "set", "give", "put", "place", "get", "exit", "quit", "wipe", "update", "change",
)  # fmt: skip
_SPLIT_EN = re.compile(
    r",?\s*\b(?:and then|and after that|then|after that|afterwards|and finally|finally|next)\b"
    rf"|\s+and\s+(?=(?:{'|'.join(_AND_VERBS)})\b)"
    r"|[.;!?](?=\s|$)"
)
_SPLIT_KO = re.compile(r"그리고|그 다음|그다음|(?<=[한린든운은])\s*(?:다음|뒤|후)에?|하고 나서|고 나서")
_KO_AND_VERB = re.compile(r"[\uac00-\ud7a3]+고(?=\s)")  # 만들고, 실행하고, 열고: "do X and …"
_KO_DO_AND = re.compile(r"[\uac00-\ud7a3]{2,}하고")  # 시작하고, 실행하고: a verb (X하다) + "and"
_STATES = re.compile(r"\balready\b|\bexists?\b|이미")

_STRONG_EN = re.compile(
    r"\bwhat (?:does|do|did) .+ mean\b|\bmeaning of\b|\bdifference between\b|\bdiffer(?:s|ent)? from\b"
    r"|\bexplain\b|\bdescribe what\b|^\s*why\b|\bhow (?:do|can|should|would|could) (?:i|we|you|one)\b"
    r"|\bhow to\b|\bhow does\b|\bwhat(?:'s| is| are) an? \b"
)
_WHAT_IS = re.compile(r"^\s*what(?:'s| is| are) (?!the\b|my\b|this\b|our\b|your\b|its\b|it\b|all\b|there\b)")
_DATA_WORDS = re.compile(r"\d|\bcurrent(?:ly)?\b|\bnow\b|\bdefined\b|\bso far\b|\bin (?:the|my|this) model\b")
_STRONG_KO = re.compile(
    r"차이|의미|뜻이|뜻은|설명|왜|어떻게|뭐야|뭔가요|무엇인가요|무엇이야|뭐예요|란\?|이란"
)
_QUESTION_EN = re.compile(r"^\s*(?:what|which|who|where|when|why|how|is|are|does|do|did|was|were)\b")
_POLITE_EN = re.compile(r"^\s*(?:can|could|would|will) you\b(?! explain| tell me (?:what|why|how))")
_REQUEST_KO = re.compile(r"(?:줘|줄래|주세요|주실래요|줄 수 있어|해라|하자|해요)\s*\??\s*$")

_NOT_EN = re.compile(
    r"(?:\bnot\b|n't\b|\bnever\b|\bexcept\b|\binstead of\b|\brather than\b|\bno longer\b)"
    r"(?:(?!\bbut\b)[^,;.!?])*"
)
_NOT_KO = re.compile(r"(\S+)\s*(?:이|가)?\s*(?:아니라|아니고|말고|빼고|제외)")
_SENTENCE = re.compile(r"(?:[^.;!?]|[.;!?](?!\s|$))+(?:[.;!?]|$)")
# Clauses of a sentence: at commas, and after Korean endings that join a reason or contrast to what
# follows (있으니까, 했는데, 있지만): "DL은 이미 있으니까 LL만 추가해" rules out DL, not LL.
_CLAUSE = re.compile(r"(?:[^,]*?(?:니까|으니|는데|지만|므로)(?=\s))|[^,]+")


def _hangul(phrase: str) -> bool:
    return "\uac00" <= phrase[0] <= "\ud7a3"


def _matcher(phrases: tuple[str, ...]) -> tuple[re.Pattern[str] | None, tuple[str, ...]]:
    """An action's phrases as one search: the Latin ones as whole words (not inside a longer word or
    right after an apostrophe) in one alternation, the Hangul ones as substrings (Korean verbs take
    endings). The answer is the same as trying each phrase alone, with one regex search per action."""
    words = [p for p in phrases if not _hangul(p)]
    pattern = rf"(?<![\w'])(?:{'|'.join(map(re.escape, words))})(?![\w'])" if words else None
    return (re.compile(pattern) if pattern else None), tuple(p for p in phrases if _hangul(p))


_ACTION_MATCHERS = tuple(
    (action, *_matcher(phrases)) for table in (_EN_ACTIONS, _KO_ACTIONS) for action, phrases in table.items()
)


def actions(text: str) -> frozenset[str]:
    """The action classes the query's verbs name ("Save as X" -> {"saveas"}, not also "save")."""
    folded = wording(text)
    found = {
        action
        for action, words, hangul in _ACTION_MATCHERS
        if (words is not None and words.search(folded)) or any(p in folded for p in hangul)
    }
    if "saveas" in found:
        found.discard("save")
    if "new" in found:
        found.discard("create")
    return frozenset(found)


def tool_action(tool: Tool) -> str | None:
    """A tool's action class: its summary's leading verb ("Save the project under a new path" ->
    saveas), else its HTTP method (GET read, DELETE delete, PUT/PATCH update); None when unknown."""
    summary = fold(tool.description.strip().split("\n", 1)[0]) if tool.description else ""
    if summary.startswith("save") and re.search(r"\b(?:as|new path|new name|copy)\b", summary):
        return "saveas"
    if summary.startswith(("start a new", "new project")):
        return "new"
    first = summary.split(" ", 1)[0] if summary else ""
    for action, phrases in _EN_ACTIONS.items():
        if first and first in phrases:
            return action
    return {"GET": "read", "DELETE": "delete", "PUT": "update", "PATCH": "update"}.get(tool.binding.method)


def _ko_clauses(sentence: str) -> list[str]:
    parts = _SPLIT_KO.split(sentence)
    out: list[str] = []
    for part in parts:
        last = 0
        for match in _KO_AND_VERB.finditer(part):
            if _ko_action(match.group()) or _KO_DO_AND.fullmatch(match.group()):
                out.append(part[last : match.end()])
                last = match.end()
        out.append(part[last:])
    return out


def _ko_action(token: str) -> bool:
    return any(token.startswith(stem) or stem in token for stems in _KO_ACTIONS.values() for stem in stems)


# What a query quotes or lists in brackets (values, field names, "(1) …" rows) is not its own wording.
_QUOTED_OR_BRACKETED = re.compile(
    r'"[^"\n]*"|“[^”\n]*”|\([^()]*(?:\([^()]*\)[^()]*)*\)|\[[^\[\]]*\]|\b\w*_\w*\b'
)


def wording(text: str) -> str:
    """The query's own words (folded): quoted strings, bracketed parts and identifiers removed."""
    return " ".join(_QUOTED_OR_BRACKETED.sub(" ", fold(text)).split())


def request_clauses(text: str) -> list[str]:
    """The clauses of the query that each ask for an action, in order (folded text)."""
    folded = wording(text)
    clauses: list[str] = []
    for sentence in _SENTENCE.findall(folded):
        for part in _SPLIT_EN.split(sentence):
            if part and part.strip():
                clauses.extend(_ko_clauses(part))
    return [c.strip() for c in clauses if c.strip() and actions(c) and not _STATES.search(c)]


def request_count(text: str) -> int:
    """How many separate requests the query makes (0 when it has fewer than two)."""
    count = len(request_clauses(text))
    return count if count >= 2 else 0


def explanation_question(text: str) -> bool:
    """A question that wants words, not a call: what something means, how to do it, why, a difference."""
    folded = fold(text).strip()
    if _STRONG_EN.search(folded) or _STRONG_KO.search(folded):
        return True
    return bool(_WHAT_IS.search(folded)) and not _DATA_WORDS.search(folded)


def plain_question(text: str) -> bool:
    """A question (not a polite request such as "Can you add …?" or "…보여 줄래?")."""
    folded = fold(text).strip()
    if _POLITE_EN.search(folded) or _REQUEST_KO.search(folded):
        return False
    return folded.endswith("?") or bool(_QUESTION_EN.search(folded))


def not_wanted_spans(folded: str) -> list[tuple[int, int]]:
    """Spans of ``folded`` (a folded query) whose values the query rules out (see the module docstring)."""
    spans = [(m.start(), m.end()) for m in _NOT_EN.finditer(folded)]
    spans.extend((m.start(1), m.end(1)) for m in _NOT_KO.finditer(folded))
    for sentence in _SENTENCE.finditer(folded):
        start = sentence.start()
        for clause in _CLAUSE.finditer(sentence.group()):
            if _STATES.search(clause.group()):
                spans.append((start + clause.start(), start + clause.end()))
    return sorted(spans)
