"""Words the embedded semantic checks need: tokenising English and Korean, and a small glossary.

The embedded semantic verifier runs with no network and often no embedding model, and the bundled
sentence-embedding model is English-only while GEN NX users write Korean. A compact Korean -> English
glossary of structural-engineering and API-verb terms bridges the two: a Korean query's words are
expanded with their English equivalents before they are matched against English tool descriptions
and argument names. It is deliberately small and domain-bound (GEN NX first); a term missing here
makes a check abstain, it never makes it reject (see verifiers/semantic.py).
"""

from __future__ import annotations

import functools
import re
import unicodedata

# Korean stem -> English words. Stems match a Hangul token's prefix, since Korean attaches particles
# and endings to words (절점을, 추가해줘).
KO_EN: dict[str, tuple[str, ...]] = {
    # verbs of the HTTP methods
    "추가": ("add", "create", "new"),
    "생성": ("create", "add", "new"),
    "만들": ("create", "add", "make"),
    "입력": ("create", "add", "input", "assign"),
    "정의": ("define", "create", "add"),
    "등록": ("register", "create", "add"),
    "수정": ("update", "modify", "change", "edit"),
    "변경": ("update", "change", "modify"),
    "바꿔": ("update", "change"),
    "바꾸": ("update", "change"),
    "업데이트": ("update",),
    "갱신": ("update",),
    "이동": ("move", "update"),
    "삭제": ("delete", "remove"),
    "제거": ("delete", "remove"),
    "지워": ("delete", "remove"),
    "지우": ("delete", "remove"),
    "조회": ("get", "read", "list", "retrieve", "query"),
    "보여": ("get", "show", "read", "list", "view"),
    "확인": ("get", "check", "read", "show"),
    "가져": ("get", "fetch", "read"),
    "알려": ("get", "tell", "show"),
    "불러": ("get", "load", "read", "open"),
    "목록": ("list", "get"),
    "실행": ("run", "execute", "perform"),
    "수행": ("run", "perform", "execute"),
    "돌려": ("run", "execute"),
    "저장": ("save", "store"),
    "열어": ("open",),
    "닫": ("close",),
    "내보내": ("export",),
    "가져오": ("import", "get"),
    "캡처": ("capture", "image"),
    "출력": ("output", "print", "export"),
    # structural engineering nouns (GEN NX)
    "절점": ("node", "nodes"),
    "노드": ("node", "nodes"),
    "요소": ("element", "elements", "elem"),
    "부재": ("element", "member"),
    "재료": ("material", "matl"),
    "재질": ("material", "matl"),
    "단면": ("section", "sect"),
    "두께": ("thickness", "thik"),
    "하중": ("load", "loads"),
    "자중": ("self", "weight", "bodf"),
    "경계": ("boundary", "support", "constraint"),
    "지점": ("support", "boundary", "constraint"),
    "구속": ("constraint", "support", "restraint"),
    "스프링": ("spring",),
    "보": ("beam",),
    "기둥": ("column",),
    "트러스": ("truss",),
    "판": ("plate",),
    "벽": ("wall",),
    "슬래브": ("slab", "plate"),
    "층": ("story", "storey", "floor"),
    "그룹": ("group",),
    "해석": ("analysis", "analyze", "analyse"),
    "조합": ("combination", "combine"),
    "케이스": ("case",),
    "정적": ("static",),
    "동적": ("dynamic",),
    "지진": ("seismic", "earthquake"),
    "풍": ("wind",),
    "온도": ("temperature", "thermal"),
    "압력": ("pressure",),
    "변위": ("displacement",),
    "반력": ("reaction",),
    "모멘트": ("moment",),
    "결과": ("result", "results"),
    "테이블": ("table",),
    "표": ("table",),
    "프로젝트": ("project",),
    "모델": ("model",),
    "단위": ("unit", "units"),
    "이름": ("name",),
    "명칭": ("name",),
    "유형": ("type",),
    "종류": ("type", "kind"),
    "타입": ("type",),
    "각도": ("angle",),
    "좌표": ("coordinate", "coordinates", "x", "y", "z"),
    "원점": ("origin",),
    "방향": ("direction",),
    "질량": ("mass",),
    "강성": ("stiffness", "spring"),
    "감쇠": ("damping",),
    "크기": ("size", "magnitude", "value"),
    "값": ("value",),
    "번호": ("number", "id"),
    "설계": ("design",),
    "강재": ("steel",),
    "콘크리트": ("concrete",),
    "문서": ("document", "doc"),
    "파일": ("file",),
    "화면": ("view", "screen", "display"),
    "뷰": ("view",),
    # general API nouns
    "날씨": ("weather",),
    "도시": ("city",),
    "날짜": ("date",),
    "사용자": ("user",),
    "이메일": ("email",),
    "주문": ("order",),
    "상품": ("product", "item"),
    "가격": ("price",),
    "검색": ("search", "find"),
}

STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "to",
        "in",
        "on",
        "at",
        "for",
        "by",
        "with",
        "and",
        "or",
        "from",
        "into",
        "as",
        "is",
        "are",
        "be",
        "this",
        "that",
        "these",
        "those",
        "it",
        "its",
        "please",
        "can",
        "could",
        "would",
        "will",
        "you",
        "me",
        "my",
        "i",
        "we",
        "our",
        "your",
        "set",
        "give",
        "make",
        "do",
        "does",
        "using",
        "use",
        "via",
        "per",
        "number",
        "reference",
        "value",
        "values",
        "id",
        "ids",
        "list",
        "object",
        "objects",
        "string",
        "which",
        "what",
        "when",
        "where",
        "how",
    ]
)
NUMBER_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "twenty": 20, "hundred": 100, "thousand": 1000,
    "half": 0.5, "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "origin": 0, "ground": 0,
    "하나": 1, "둘": 2, "셋": 3, "넷": 4, "다섯": 5, "여섯": 6, "일곱": 7, "여덟": 8, "아홉": 9, "열": 10,
    "첫": 1, "두": 2, "세": 3, "네": 4, "원점": 0, "영": 0,
}  # fmt: skip

# Identifiers with digits inside (pt1x, h2o) stay one token: their digits are not values.
_TOKEN = re.compile(r"[a-z]+(?:\d+[a-z]*)+|[a-z]+|\d+(?:\.\d+)?|[\uac00-\ud7a3]+|[^\W\d_a-z\uac00-\ud7a3]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|[_\-\s./{}]+")


def fold(text: str) -> str:
    """NFKC + casefold + the Unicode minus as ASCII: the form every comparison here uses."""
    return unicodedata.normalize("NFKC", text).replace("\u2212", "-").casefold()


def tokens(text: str) -> list[tuple[str, int]]:
    """(token, start offset) in the folded text; script changes split tokens (``X좌표`` -> x, 좌표)."""
    return [(m.group(), m.start()) for m in _TOKEN.finditer(fold(text))]


def name_words(name: str) -> list[str]:
    """Words of an identifier: ``startDate`` -> start, date; ``POST /db/NODE`` -> post, db, node."""
    return [w for w in (p.casefold() for p in _CAMEL.split(name)) if w]


@functools.lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light English stem: plural and verb endings and a final e go, so node/nodes and
    create/created/creating meet (as nod, creat). Only ever compared with other stems."""
    if len(word) <= 3:
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith(("sses", "xes", "zes", "ches", "shes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    elif word.endswith("ing") and len(word) > 5:
        word = word[:-3]
    elif word.endswith("ed") and len(word) > 4:
        word = word[:-2]
    return word[:-1] if word.endswith("e") and len(word) > 3 else word


# Particles and endings that may follow a Korean noun stem inside one token.
PARTICLES = frozenset(
    [
        "은",
        "는",
        "이",
        "가",
        "을",
        "를",
        "의",
        "에",
        "에서",
        "로",
        "으로",
        "와",
        "과",
        "도",
        "만",
        "에게",
        "까지",
        "부터",
        "랑",
        "이랑",
        "하고",
        "및",
        "들",
        "들을",
        "들의",
        "에는",
        "으로는",
    ]
)


# English words that name one thing in argument labels: a query says "computed" for a CALC field.
# Keyed and valued by stem; kept tiny and symmetric, like the Korean glossary (a missing pair only
# makes a check abstain less often, it never rejects).
_EN_SAME: tuple[tuple[str, ...], ...] = (("calc", "calculat", "comput"),)
EN_SYNONYMS: dict[str, frozenset[str]] = {w: frozenset(g) - {w} for g in _EN_SAME for w in g}


@functools.lru_cache(maxsize=65536)  # pure, and asked ~350 times per sample with few distinct pairs
def names_term(label: frozenset[str], term: str) -> bool:
    """Whether a query term (a stem) names one of an argument's ``label`` terms: the same stem, a
    synonym, or a label word of four letters or more that the term starts with (CALC "calculated",
    AUTO "automatically": GEN NX keys shorten their words)."""
    if term in label or not label.isdisjoint(EN_SYNONYMS.get(term, ())):
        return True
    return any(len(w) >= 4 and w.isalpha() and len(term) > len(w) and term.startswith(w) for w in label)


@functools.lru_cache(maxsize=65536)  # pure: a key against every query token, for every leaf and pair
def abbreviates(short: str, word: str) -> bool:
    """Whether ``short`` abbreviates ``word``: same first letter, its letters in order, ``word`` longer
    (an abbreviated key names the word it shortens: MATL "material", SECT "section", THIK "thickness")."""
    letters = iter(word)
    return (
        len(short) >= 3
        and len(word) > len(short)
        and short[0] == word[0]
        and all(ch in letters for ch in short)
    )


def ko_match(token: str, stem_ko: str) -> bool:
    """Whether a Hangul token is ``stem_ko`` plus endings. One-syllable stems (보 beam, 판 plate) need
    the rest to be a particle, so 보여줘 (show) is not 보 (beam)."""
    if not token.startswith(stem_ko):
        return False
    rest = token[len(stem_ko) :]
    return not rest or len(stem_ko) > 1 or rest in PARTICLES


@functools.lru_cache(maxsize=65536)
def token_terms(token: str) -> tuple[str, ...]:
    """The stemmed English words one (folded) token stands for: itself, or its glossary meanings."""
    if "\uac00" <= token[0] <= "\ud7a3":
        return tuple(stem(w) for stem_ko, words in KO_EN.items() if ko_match(token, stem_ko) for w in words)
    if token.isalpha() and token not in STOPWORDS:
        return (stem(token),)
    return ()


@functools.lru_cache(maxsize=65536)
def _english_terms(text: str) -> tuple[str, ...]:
    return tuple(term for token, _ in tokens(text) for term in token_terms(token))


def english_terms(text: str) -> list[str]:
    """Stemmed content words of ``text``, Korean words translated through ``KO_EN`` (cached)."""
    return list(_english_terms(text))
