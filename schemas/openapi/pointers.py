"""JSON-pointer tokens (RFC 6901): escaping and joining.

Kept apart from ``refs.py`` because the budget walker (``budgets.py``) names pointers too and
``refs.py`` depends on the loader that applies those budgets.
"""

from __future__ import annotations


def escape(token: str) -> str:
    """Escape one JSON-pointer token (RFC 6901)."""
    return token.replace("~", "~0").replace("/", "~1")


def unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def join(pointer: str, *tokens: str | int) -> str:
    """``join("/paths", "/pets", "get")`` -> ``"/paths/~1pets/get"``."""
    for token in tokens:
        text = str(token)
        if "~" in text or "/" in text:
            text = escape(text)
        pointer = f"{pointer}/{text}"
    return pointer


__all__ = ["escape", "join", "unescape"]
