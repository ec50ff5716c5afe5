"""A native YAML fast path that gives exactly the trees the PyYAML spec loader gives, or declines.

Parsing GEN NX's 1.7 MB of YAML takes ~0.9 CPU-s with libyaml's C parser behind PyYAML's Python
constructor, most of ingestion. ``ryaml`` (a Rust YAML parser, wheels on PyPI) builds the same tree in
~0.1 s, but reads YAML 1.2 where the spec loader reads YAML 1.1 (plain ``yes``, ``18:00``, ``012``,
``1_000`` are a bool and ints there, strings here; ``1e5`` is a float here, a string there), does not
merge ``<<`` keys, rejects duplicate keys and keeps non-string keys. So :func:`load_fast` returns a tree
only when nothing in the document can read differently:

* a string that PyYAML's own resolvers would read as another type when written plain (``yes``,
  ``012``) passes only if ``ryaml`` too reads it plain as a non-string (then it was quoted: ``'true'``)
  or if the text never has it where a plain scalar stands;
* no merge key or tag (``!``), and no number in a form only one of them reads as a number (``-.5``,
  ``1e5``, ``1.5e5``, ``0o7``): the tree cannot say how a number was written, so the text is searched
  and each hit judged as a whole token (hits in quoted text or prose only cost speed);
* no two keys of a mapping that become the same string (``200:`` and ``'200':``), and, where a mapping
  has non-string keys, no plain bool or float key (``true``, ``1`` and ``1.0`` are one dict key).

Mapping keys that are not strings become strings as the spec loader makes them (``200`` -> ``"200"``,
``true`` -> ``"true"``, ``~`` -> ``"null"``). Declining (``None``) means: parse with PyYAML, which also
owns every error message. Without ``ryaml`` installed, :data:`NATIVE` is None and every document goes
to PyYAML (as before; just slower). ``ryaml`` also refuses exponential alias expansion
("billion laughs"), which PyYAML would expand lazily — that too declines to PyYAML.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

try:  # optional: the fast path is an accelerator, never a requirement
    import ryaml as _ryaml

    NATIVE: Callable[[str], Any] | None = _ryaml.loads
except ImportError:  # pragma: no cover - depends on the environment
    NATIVE = None

# ryaml's scanner slows down with the square of nested flow collections (20,000 nested ``{a: `` take
# ~3 s to be refused, where libyaml stops at depth 1,000 at once); with at most this many ``{`` and
# ``[`` in the whole text a crafted document costs it under a second. GEN NX has ~6,700.
MAX_FLOW_OPENERS = 10_000
Resolvers = dict[Any, list[tuple[str, re.Pattern[str]]]]
_STR_TAG = "tag:yaml.org,2002:str"
# Text that YAML 1.1 (PyYAML) and YAML 1.2 (ryaml) can read differently whatever the tree says: a
# merge key or a tag.
_MERGE_OR_TAG = re.compile(r"<<\s*:|(?:^|[\s\[{,])!", re.MULTILINE)
# Where a number may be written in a form only one of them reads as a number: a sign before a
# leading dot ("-.5"), an exponent without a dot or without a sign ("1e5", "1.5e5": 1.1 floats need
# both), a 0o prefix. Each hit is then judged as the whole token around it.
_NUMBER_RISKS = (re.compile(r"[eE][-+]?[0-9]"), re.compile(r"[-+]\.[0-9A-Za-z]"), re.compile(r"0o[0-7]"))
_TOKEN_EDGE = re.compile(r"[\s\[\]{},:#'\"]")
# Where a plain scalar can stand: after a key's colon, a dash, "?", a flow bracket or comma, an
# anchor, or first on a line; it ends at the line's end, a comment, a flow delimiter or a key's colon.
_PLAIN_BEFORE = r"(?:^[ \t]*|[:?\-][ \t]+|[\[{,][ \t]*)(?:&\S+[ \t]+)?"
_PLAIN_AFTER = r"[ \t]*(?=$|[,\]}#]|:[ \t]|:$)"
_PLAIN_START = re.compile(_PLAIN_BEFORE + r"$", re.MULTILINE)
_PLAIN_END = re.compile(_PLAIN_AFTER, re.MULTILINE)
# Plain keys that could be a bool or a number (a digit, sign, dot, or a letter of true/false/yes/...).
_PLAIN_KEY = re.compile(_PLAIN_BEFORE + r"([-+.0-9tTfFyYnNoO~][^:#\n]*?)[ \t]*:(?=[ \t]|$)", re.MULTILINE)


def load_fast(text: str, resolvers: Resolvers) -> Any | None:
    """The tree of ``text`` as the spec loader would build it, or None to let PyYAML parse it.

    ``resolvers`` is the spec loader's ``yaml_implicit_resolvers`` (first character -> [(tag,
    regexp)]): a string scalar one of them claims would not be a string under PyYAML."""
    if NATIVE is None or _flow_openers(text) > MAX_FLOW_OPENERS:
        return None
    if _merge_or_tag(text) or not _numbers_agree(text, resolvers):
        return None
    try:
        tree = NATIVE(text)
    except Exception:  # invalid YAML, duplicate keys, several documents, too many aliases: PyYAML decides
        return None
    return tree if _settle(tree, resolvers, text) else None


def _flow_openers(text: str) -> int:
    return text.count("{") + text.count("[")


def _merge_or_tag(text: str) -> bool:
    # Literal finds first: the regex alone scans a 1.7 MB spec in ~50 ms, the finds in ~1 ms.
    return ("<<" in text or "!" in text) and _MERGE_OR_TAG.search(text) is not None


def _tag(value: str, resolvers: Resolvers) -> str:
    """The tag PyYAML's resolvers give ``value`` written plain (its ``resolve`` for scalars)."""
    for tag, regexp in resolvers.get(value[0] if value else "", []) + resolvers.get(None, []):
        if regexp.match(value):
            return tag
    return _STR_TAG


def _native_kind(token: str) -> str:
    assert NATIVE is not None
    try:
        value = NATIVE(token)
    except Exception:
        return "invalid"
    return {bool: "bool", int: "int", float: "float", str: "str", type(None): "null"}.get(
        type(value), "other"
    )


def _numbers_agree(text: str, resolvers: Resolvers) -> bool:
    """Whether each token holding a risky number form (see _NUMBER_RISK) reads as the same type in both
    loaders (PyYAML reads "-.5" and "1e5" as strings, ryaml as floats; the tree cannot say which form
    was written). Tokens inside quoted text or prose are judged too: that only costs speed."""
    seen: set[str] = set()
    # Three simple scans are several times faster than one alternation over a large document.
    hits = [hit for risk in _NUMBER_RISKS for hit in risk.finditer(text)]
    for hit in hits:
        start, end = hit.start(), hit.end()
        while start > 0 and not _TOKEN_EDGE.match(text, start - 1):
            start -= 1
        edge = _TOKEN_EDGE.search(text, end)
        token = text[start : edge.start() if edge else len(text)]
        if token in seen:
            continue
        seen.add(token)
        if _native_kind(token) != _tag(token, resolvers).rsplit(":", 1)[-1]:
            return False
    return True


def _keys_agree(text: str) -> bool:
    """No plain key may be a bool or a float to ryaml: in a Python dict ``true``, ``1`` and ``1.0`` are
    one key, so ``true:`` and ``1:`` in one mapping collapse into one entry without a trace, where
    PyYAML keeps "true" and "1"."""
    keys = {m.group(1) for m in _PLAIN_KEY.finditer(text)}
    return all(_native_kind(key) not in ("bool", "float") for key in keys)


def _same_string(value: str, resolvers: Resolvers, text: str) -> bool:
    """Whether PyYAML reads the scalar that ``ryaml`` read as the string ``value`` as that string too.

    If PyYAML would read ``value`` written plain as a string, yes. If not, it depends on how it was
    written: ``ryaml`` reads a plain ``true``, ``12`` or empty scalar as a bool, int or null too, so
    such a string was quoted and is a string for PyYAML as well; a plain ``yes`` or ``012`` is a
    string for ``ryaml`` only, so ``text`` must not have it written plain."""
    if _tag(value, resolvers) == _STR_TAG or _native_kind(value) not in ("str", "invalid"):
        return True
    return not _written_plain(value, text)


def _written_plain(value: str, text: str) -> bool:
    """Whether ``value`` stands somewhere in ``text`` where a plain scalar can (found by literal search
    first: one regex over the whole text would try every position)."""
    start = text.find(value)
    while start != -1:
        line_start = text.rfind("\n", 0, start) + 1
        if _PLAIN_END.match(text, start + len(value)) and _PLAIN_START.search(text, line_start, start):
            return True
        start = text.find(value, start + 1)
    return False


def _key(key: Any) -> Any:
    # As the spec loader's mapping constructor: OpenAPI keys are always strings.
    return "null" if key is None else str(key).lower() if isinstance(key, bool) else str(key)


def _settle(tree: Any, resolvers: Resolvers, text: str) -> bool:
    """Check every string (key or value) and turn non-string keys into strings, in place; False to
    decline. One pass collects the strings (specs repeat them a lot), each distinct one is judged once."""
    strings: set[Any] = set()
    mappings_with_odd_keys = []
    stack = [tree]
    pop, push, add_all = stack.pop, stack.extend, strings.update
    while stack:
        node = pop()
        kind = type(node)
        if kind is dict:
            add_all(node)
            push(node.values())
        elif kind is list:
            push(node)
        elif kind is str:
            strings.add(node)
    odd = {s for s in strings if type(s) is not str}
    if odd:  # non-string keys (``200:``): find their mappings and rename the keys
        if not _keys_agree(text):
            return False
        stack.append(tree)
        while stack:
            node = pop()
            if type(node) is dict:
                if not all(type(k) is str for k in node):
                    mappings_with_odd_keys.append(node)
                push(node.values())
            elif type(node) is list:
                push(node)
        for mapping in mappings_with_odd_keys:
            items = [(k if type(k) is str else _key(k), v) for k, v in mapping.items()]
            if len({k for k, _ in items}) != len(items):
                return False  # two keys that PyYAML would merge into one
            mapping.clear()
            mapping.update(items)
        strings -= odd
        strings.update(_key(k) for k in odd)
    first_chars = {c for c in resolvers if c}  # strings starting elsewhere are strings to PyYAML too
    return all(_same_string(s, resolvers, text) for s in strings if not s or s[0] in first_chars)
