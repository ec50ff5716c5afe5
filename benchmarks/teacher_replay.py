"""Teacher replay: hand-written replies to the real client's prompts, through the real client and the verifiers.

    PYTHONPATH=. OMP_NUM_THREADS=1 .venv/bin/python benchmarks/teacher_replay.py

The set is ``tests/data/teacher_replay`` (see ``tests/generators/replay.py``): the prompts the real client
(``OpenAITeacher`` in ``LLMGenerator``) sends for a 60-item GEN NX plan, a good reply per prompt written
as a careful teacher would, and plausible-but-wrong replies (invented codes, wrong units, swapped
fields, a per-record delete, the wrong tool). Each reply goes over loopback HTTP through the openai
client, is parsed into a sample, and the samples go through the default verifier chain (format,
execution on the spec-driven sandbox, semantic, dedup). It prints:

* parsed: good replies that became samples (goal 100 %);
* accepted: good samples the default chain accepts (goal >= 97 %);
* invented codes rejected: with ``format.reject_codes_not_in_spec`` (goal: all), and by the default
  chain: every code of a field the spec lists allowed values for (goal: all); codes of fields with only
  examples are ``code_not_in_spec`` warnings there, each shown with what the default chain did;
* wrong replies rejected overall, and the known misses the set records;
* prompt size over the full GEN NX plan against ``MAX_PROMPT_CHARS``, and the share of prompts of targets
  with a documented example that show it (goal 100 %).

Exit status 0 when every goal is met.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from generators.config import PlanConfig
from generators.llm import LLMGenerator
from generators.plan import build_plan
from generators.prompt_tools import spec_example
from generators.prompts import MAX_PROMPT_CHARS
from tests.generators.replay import (
    GOOD,
    WRONG,
    gennx_catalog,
    read_jsonl,
    rejection,
    replay_items,
    run_client,
    verify,
)


def pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "n/a"


def main() -> int:
    started = time.perf_counter()
    catalog = gennx_catalog()
    items = replay_items(catalog)
    good_rows = read_jsonl(GOOD)
    samples, failures, _ = run_client(catalog, items, {r["item_id"]: r["reply"] for r in good_rows})
    verdicts = verify(catalog, samples)
    accepted = [s for s in samples if rejection(verdicts[s.id]) is None]

    wrong_rows = read_jsonl(WRONG)
    by_id = {r["item_id"]: r for r in wrong_rows}
    subset = [i for i in items if i.id in by_id]
    wrong_samples, wrong_failures, _ = run_client(catalog, subset, {i: r["reply"] for i, r in by_id.items()})
    outcome = {f["item_id"]: f"generation:{f['code']}" for f in wrong_failures}
    strict = verify(catalog, wrong_samples, reject_codes_not_in_spec=True)
    default = verify(catalog, wrong_samples)
    default_outcome = dict(outcome)
    for sample in wrong_samples:
        outcome[sample.provenance.work_item or ""] = rejection(strict[sample.id])
        default_outcome[sample.provenance.work_item or ""] = rejection(default[sample.id])
    invented = [r["item_id"] for r in wrong_rows if r["flaw"] == "invented_code"]
    caught = sum(outcome[i] is not None for i in invented)
    caught_default = sum(default_outcome[i] is not None for i in invented)
    # A field with known values is one the spec gives an enum for (the strict run says enum_violation);
    # the others have only examples, so the default chain warns (code_not_in_spec) unless another
    # check happens to reject the sample.
    enum_fields = [i for i in invented if outcome[i] == "format:enum_violation"]
    example_only = [i for i in invented if i not in enum_fields]
    caught_enum = sum(default_outcome[i] is not None for i in enum_fields)
    example_outcomes = ", ".join(f"{i[:8]} {default_outcome[i] or 'warning only'}" for i in example_only)
    rejected = sum(outcome[r["item_id"]] is not None for r in wrong_rows)
    misses = [r for r in wrong_rows if outcome[r["item_id"]] is None]

    plan = build_plan(catalog, PlanConfig(seed=21))
    generator = LLMGenerator(None, catalog, teacher_model="benchmark")  # type: ignore[arg-type]
    sizes, with_example, showing = [], 0, 0
    for item in plan:
        text = generator.messages(item)[1]["content"]
        sizes.append(len(text))
        for name in set(item.targets):
            example = spec_example(catalog[name])
            if example is not None:
                with_example += 1
                showing += json.dumps(example, ensure_ascii=False, separators=(",", ":")) in text

    print(
        f"teacher replay set: {len(good_rows)} good replies, {len(wrong_rows)} wrong replies "
        f"(GEN NX, 60-item plan, {len({(i.style, i.language) for i in items})} style x language cells)"
    )
    print(
        f"  parsed:   {len(samples)}/{len(good_rows)} good replies became samples = {pct(len(samples), len(good_rows))} "
        f"(goal 100 %); generation failures: {len(failures)}"
    )
    print(
        f"  accepted: {len(accepted)}/{len(samples)} correct samples pass the default chain = "
        f"{pct(len(accepted), len(samples))} (goal >= 97 %)"
    )
    print(
        f"  invented codes rejected: {caught}/{len(invented)} with format.reject_codes_not_in_spec (goal: all); "
        f"default chain: {caught_default}/{len(invented)}"
    )
    print(
        f"    for fields with allowed values in the spec: {caught_enum}/{len(enum_fields)} rejected by the "
        f"default chain (goal: all); example-only fields: {example_outcomes or 'none'}"
    )
    print(
        f"  wrong replies rejected: {rejected}/{len(wrong_rows)}; known misses: "
        + ("; ".join(f"{m['flaw']}: {m.get('known_miss', 'not recorded')}" for m in misses) or "none")
    )
    print(
        f"  prompts over the GEN NX plan ({len(plan)} items): median {statistics.median(sizes):,.0f} chars, "
        f"max {max(sizes):,} (bound {MAX_PROMPT_CHARS:,}: {'within' if max(sizes) <= MAX_PROMPT_CHARS else 'EXCEEDED'}); "
        f"targets with a documented example shown it: {showing}/{with_example} = {pct(showing, with_example)}"
    )
    print(f"  ({time.perf_counter() - started:.1f} s)")
    ok = (
        len(samples) == len(good_rows)
        and len(accepted) >= 0.97 * len(samples)
        and caught == len(invented)
        and caught_enum == len(enum_fields)
        and max(sizes) <= MAX_PROMPT_CHARS
        and showing == with_example
        and all(m.get("known_miss") for m in misses)
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
