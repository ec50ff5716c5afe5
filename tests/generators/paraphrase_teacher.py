"""Answers to trajectory-paraphrase prompts for the loopback teacher (``teacher_server.TeacherServer``).

    TeacherServer(answers=paraphrase_answers("good"))

The answer is *derived from the prompt*: the server reads the ``<turns>`` block that
``generators.trajectory_paraphrase.build_messages`` writes and rewords each turn with a fixed set of
rewrites (English frames and verbs; Korean endings, and "9번" spaced as "9 번"), keeping every value. The
other modes spoil that good answer the way a careless teacher does, one defect each:

* ``changed``: the first number with a decimal point loses it (3.5 -> 35; without one, an integer
  gains a 0);
* ``dropped``: the last number of the first turn that writes one is removed;
* ``invented``: a turn gains a sentence with a number the template does not write;
* ``renamed``: a field name is swapped for another (a changed referent);
* ``count``: the last turn is missing;
* ``broken``: the JSON is cut off;
* ``long``: the first turn is the rewording repeated far past any rewording's length;
* ``echo``: the template turns, unchanged.

Anything that is not a paraphrase prompt gets ``None`` (the server's default answer).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

_TURNS = re.compile(r"<turns>\s*(.*?)\s*</turns>", re.S)
_NUMBER = re.compile(r"(?<![\w.-])\d+(?:\.\d+)?(?![\w.])")
_EN = [
    (r"^Some context before we start: ", "Quick background first: "),
    (r"^Next, ", "Now "),
    (r"^Please ", ""),
    (r"^Could you (.*)\?$", r"\1, if you can."),
    (r"\bread all\b", "show me all"),
    (r"\bcreate\b", "add"),
    (r"\b[Uu]pdate\b", "change"),
    (r"\brecords\b", "rows"),
    (r"^It should work now, please try again\.$", "OK, that tool is back. Give it another go."),
    (r"^I want to add a new (.*) record\.$", r"I'd like to put another \1 row in."),
    (r"^In the (\S+) row whose", r"Find the \1 row where"),
]
_KO = [
    (r"^시작 전에 배경을 말할게\. ", "먼저 배경 설명할게. "),
    (r"(\d)번", r"\1 번"),  # Korean number/unit spacing: "9번" and "9 번" state the same 9
    (r"부탁해\.?$", "해 줄래?"),
    (r"^이번엔 ", "이제 "),
    (r"^그리고 ", "다음으로 "),
    (r"조회해줘$", "보여줘"),
    (r"불러와줘$", "보여줘"),
    (r"수정", "변경"),
    (r"^이제 될 거야, 다시 해줘\.$", "이제 도구가 될 테니까 다시 해봐."),
    (r"하나 추가하고 싶어\.$", "새로 하나 넣고 싶은데."),
]


def reword(text: str, language: str) -> str:
    """A person's wording of a template turn: the same values, other words."""
    out = text
    for pattern, replacement in _KO if language == "ko" else _EN:
        out = re.sub(pattern, replacement, out)
    out = out[:1].upper() + out[1:] if language == "en" else out
    return out if out != text else (f"{text} 고마워." if language == "ko" else f"{text} Thanks.")


def _changed(turns: list[str]) -> list[str]:
    decimal = [i for i, turn in enumerate(turns) if any("." in m.group() for m in _NUMBER.finditer(turn))]
    for i in decimal + list(range(len(turns))):
        turn = turns[i]
        found = list(_NUMBER.finditer(turn))
        match = next((m for m in found if "." in m.group()), found[0] if found else None)
        if match:
            number = match.group()
            spoiled = number.replace(".", "", 1) if "." in number else number + "0"
            turns[i] = turn[: match.start()] + spoiled + turn[match.end() :]
            return turns
    return turns


def _dropped(turns: list[str]) -> list[str]:
    for i, turn in enumerate(turns):
        found = list(_NUMBER.finditer(turn))
        if found:
            last = found[-1]
            turns[i] = turn[: last.start()].rstrip() + turn[last.end() :]
            return turns
    return turns


def _invented(turns: list[str], language: str) -> list[str]:
    turns[-1] += " 그리고 하중은 4242.5로 해줘." if language == "ko" else " And make the load 4242.5."
    return turns


def _renamed(turns: list[str], keeps: list[list[str]]) -> list[str]:
    for i, keep in enumerate(keeps):
        names = [k for k in keep if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k)]
        if names and names[-1] in turns[i]:
            turns[i] = re.sub(rf"\b{re.escape(names[-1])}\b", "ZZFIELD", turns[i])
            return turns
    return turns


def answer(body: dict[str, Any], mode: str) -> str | None:
    prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []) if m.get("role") == "user")
    block = _TURNS.search(prompt)
    if block is None:
        return None
    given = json.loads(block.group(1))
    language = "ko" if "Language: ko" in prompt else "en"
    if mode == "echo":
        return json.dumps({"turns": [t["text"] for t in given]}, ensure_ascii=False)
    turns = [reword(t["text"], language) for t in given]
    if mode == "changed":
        turns = _changed(turns)
    elif mode == "dropped":
        turns = _dropped(turns)
    elif mode == "invented":
        turns = _invented(turns, language)
    elif mode == "renamed":
        turns = _renamed(turns, [t["keep"] for t in given])
    elif mode == "long":
        turns[0] = " ".join([turns[0]] * 40)
    elif mode == "count":
        turns = turns[:-1]
    elif mode == "broken":
        return 'Sure! {"turns": [' + json.dumps(turns[0], ensure_ascii=False) + ", "
    return f"Here you go:\n```json\n{json.dumps({'turns': turns}, ensure_ascii=False)}\n```"


def paraphrase_answers(mode: str = "good") -> Callable[[dict[str, Any]], str | None]:
    """The ``answers`` hook of ``TeacherServer`` for one mode (see the module docstring)."""
    return lambda body: answer(body, mode)
