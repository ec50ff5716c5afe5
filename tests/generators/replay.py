"""The teacher replay set: real prompts of a 60-item GEN NX plan, hand-written replies, replayed over loopback.

Files (``tests/data/teacher_replay/``):

* ``prompts.jsonl`` -- one line per work item of :func:`replay_items`: its id, style, language, targets,
  the seed the client sends, and the user message exactly as the real client (``OpenAITeacher`` inside
  ``LLMGenerator``) sent it, with its sha256. Captured, never edited by hand.
* ``good.jsonl`` -- ``{"item_id", "reply"}``: the text a careful teacher wrote for that prompt (code
  fences, prose around the JSON and all), written by hand from the prompt alone: values stated the way
  engineers state them, English and Korean as the item asks.
* ``wrong.jsonl`` -- ``{"item_id", "flaw", "reply", "rejected_by"}``: plausible replies with one flaw
  each (an invented code, a wrong unit, swapped fields, ...) and the verdict code expected to reject it.

Re-recording, when a prompt changes (``PROMPT_VERSION``, the rules, the seed pool, the spec or the plan):

    PYTHONPATH=. python -m tests.generators.replay capture     # rewrites prompts.jsonl
    PYTHONPATH=. python -m tests.generators.replay show ITEM   # a prompt, to check or write its replies

then read the diff of ``prompts.jsonl`` and check each reply in ``good.jsonl`` / ``wrong.jsonl`` still
answers its prompt (an item the new plan no longer has must get a new reply). The test
``test_teacher_replay.py`` fails with these instructions while the stored prompts differ from what the
client sends now.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from generators.config import PlanConfig, TeacherConfig
from generators.llm import LLMGenerator, teacher_seed
from generators.plan import WorkItem, build_plan, limit_items
from generators.teacher import OpenAITeacher
from schemas.catalog import Catalog
from schemas.models import Sample
from tests.generators.catalog_fixtures import GENNX_SPEC, GENNX_TIERS
from tests.generators.teacher_server import TeacherServer

REPLAY_DIR = Path(__file__).resolve().parents[1] / "data" / "teacher_replay"
PROMPTS, GOOD, WRONG = REPLAY_DIR / "prompts.jsonl", REPLAY_DIR / "good.jsonl", REPLAY_DIR / "wrong.jsonl"
PLAN_SEED, PLAN_SIZE = 21, 60
MODEL = "replay-teacher"


def gennx_catalog() -> Catalog:
    from schemas.openapi import ingest

    return ingest([GENNX_SPEC], naming="snake", tier_rules=GENNX_TIERS).catalog


def replay_items(catalog: Catalog) -> list[WorkItem]:
    """The set's plan: the default plan of the GEN NX catalog (seed 21), limited to 60 items."""
    return limit_items(build_plan(catalog, PlanConfig(seed=PLAN_SEED)), PLAN_SIZE)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def replies_by_seed(items: list[WorkItem], replies: dict[str, str]) -> Callable[[dict[str, Any]], str | None]:
    """A loopback answer function: the reply recorded for the item whose seed the request carries."""
    by_seed = {teacher_seed(item): replies.get(item.id) for item in items}
    return lambda body: by_seed.get(body.get("seed"))


def run_client(
    catalog: Catalog, items: list[WorkItem], replies: dict[str, str] | None = None
) -> tuple[list[Sample], list[dict[str, Any]], list[dict[str, Any]]]:
    """Every item through the real client against a loopback server answering with ``replies`` (the
    server's derived answers where none is given): (samples, failures, request bodies sent)."""
    answers = replies_by_seed(items, replies) if replies is not None else None
    with TeacherServer(answers=answers) as server:
        config = TeacherConfig(model=MODEL, base_url=server.base_url, concurrency=8, max_retries=0)

        async def go() -> tuple[list[Sample], list[dict[str, Any]]]:
            async with OpenAITeacher(config) as teacher:
                return await LLMGenerator(teacher, catalog, teacher_model=MODEL).generate(items)

        samples, failures = asyncio.run(go())
        return samples, failures, list(server.log.bodies)


def captured(catalog: Catalog) -> list[dict[str, Any]]:
    """The prompt records of the set, as the client sends them now."""
    items = replay_items(catalog)
    _, _, bodies = run_client(catalog, items)
    by_seed = {body.get("seed"): body for body in bodies}
    records = []
    for item in items:
        body = by_seed[teacher_seed(item)]
        user = next(m["content"] for m in body["messages"] if m["role"] == "user")
        records.append(
            {
                "item_id": item.id,
                "style": item.style.value,
                "language": item.language,
                "targets": item.targets,
                "offered": item.offered,
                "seed": teacher_seed(item),
                "sha256": _sha(json.dumps(body["messages"], ensure_ascii=False, sort_keys=True)),
                "user": user,
            }
        )
    return records


def verify(catalog: Catalog, samples: list[Sample], **format_options: Any) -> dict[str, list[Any]]:
    """The default verifier chain (format, execution on a sandbox in this process, semantic, dedup)
    over ``samples``: sample id -> its verdicts."""
    from verifiers.base import VerifyContext
    from verifiers.pipeline import run_verifiers
    from verifiers.registry import DEFAULT_VERIFIERS, load_verifiers

    options = {"execution": {"sandbox_mode": "thread"}, "format": format_options}
    verifiers = load_verifiers(list(DEFAULT_VERIFIERS), options)
    result = run_verifiers(samples, verifiers, VerifyContext(catalog=catalog))
    by_sample: dict[str, list[Any]] = {s.id: [] for s in samples}
    for verdict in result.verdicts:
        by_sample.setdefault(verdict.sample_id, []).append(verdict)
    return by_sample


def rejection(verdicts: list[Any]) -> str | None:
    """The code of the first verdict that did not pass, None when all passed."""
    return next((f"{v.verifier}:{v.code}" for v in verdicts if v.passed is not True), None)


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "help"
    if command == "capture":
        records = captured(gennx_catalog())
        REPLAY_DIR.mkdir(parents=True, exist_ok=True)
        PROMPTS.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
        print(f"wrote {len(records)} prompts to {PROMPTS}")
        return 0
    if command == "show" and len(argv) == 2:
        for record in read_jsonl(PROMPTS):
            if record["item_id"].startswith(argv[1]):
                print(record["user"])
                return 0
        print(f"no item {argv[1]!r} in {PROMPTS}", file=sys.stderr)
        return 1
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
