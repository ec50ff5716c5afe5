"""What an HTTP answer says about a call: passed, failed (with the server's message) or undecided.

In: a status code and the (already redacted) response text. Out: ``(passed, code, message)``:
- 2xx passes with ``ok`` — unless ``error_key`` is set (the spec declares errors-as-200, as GEN NX's
  does with ``x-callforge-errors-as-200: true``) and the body is ``{"error": {...}}`` (or
  ``{"error": "..."}``): then it fails with ``api_error``. Other APIs may well answer a valid call with
  an ``error`` field (OpenAI's batch objects, Discord's), so the rule is never applied unasked;
- 4xx fails with ``http_<status>`` and the server's own message (``error.message``, ``message``,
  ``detail``, ``title``, ``errors``, else the text), truncated to ``MESSAGE_CHARS``;
- 5xx and 3xx are undecided (``passed=None``) with ``http_<status>``: the server, not the call, failed,
  and redirects are not followed.
"""

from __future__ import annotations

import json

MESSAGE_CHARS = 300
# The spec-level setting (top level of the spec) that turns the ``error``-key rule on for its tools.
ERRORS_AS_200 = "x-callforge-errors-as-200"


def classify(
    status: int, text: str, attempts: int = 1, *, error_key: bool = False
) -> tuple[bool | None, str, str]:
    """(passed, code, message) for one HTTP answer (``text`` already redacted)."""
    if 200 <= status < 300:
        error = api_error_message(text) if error_key else None
        if error is not None:
            return False, "api_error", error[:MESSAGE_CHARS]
        return True, "ok", ""
    if 400 <= status < 500:
        return False, f"http_{status}", server_message(text)[:MESSAGE_CHARS] or f"HTTP {status}"
    if status >= 500:
        return (
            None,
            f"http_{status}",
            f"HTTP {status} after {attempts} attempts: {server_message(text)[:MESSAGE_CHARS]}",
        )
    return None, f"http_{status}", f"HTTP {status} (redirects are not followed)"


def api_error_message(text: str) -> str | None:
    """The message of a 2xx body shaped ``{"error": {"message": ...}}`` or ``{"error": "..."}``; else None."""
    if not text.lstrip().startswith("{"):
        return None
    try:
        body = json.loads(text)
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and error:
        return str(error.get("message") or json.dumps(error, ensure_ascii=False))
    if isinstance(error, str) and error:
        return error
    return None


def server_message(text: str) -> str:
    """The human message in an error body: ``error.message``, ``message``, ``detail``, ``title``, or the text."""
    try:
        body = json.loads(text)
    except ValueError:
        return " ".join(text.split())
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        for key in ("message", "detail", "title", "error", "errors"):
            value = body.get(key)
            if value:
                return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return " ".join(text.split())
