"""The paraphrase acceptance check against hand-written, labelled paraphrases (not generated).

``tests/data/paraphrases/gennx_paraphrases.yaml``: user turns of generated GEN NX trajectories, each
reworded by hand, good or with one defect (a value changed, dropped or invented, a referent changed).
Every label is asserted: a good paraphrase passes the check, a defective one is refused with the reason
its defect calls for. An entry with ``check_misses`` is one the check is known to get wrong; it is
asserted to stay wrong (so fixing the check means updating the entry) and counted in the rates below.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest

from schemas.config_files import load_yaml
from schemas.trajectories import GoldCall
from tests.verifiers.gennx_fixtures import gennx_catalog
from verifiers.trajectory.paraphrase import call_names, keep_of, turn_problem

DATA = Path(__file__).resolve().parents[1] / "data" / "paraphrases" / "gennx_paraphrases.yaml"
REASONS = {
    "value_changed": {"paraphrase_value_changed"},
    "value_dropped": {"paraphrase_value_dropped"},
    "value_invented": {"paraphrase_value_invented"},
    "referent_changed": {"paraphrase_name_dropped"},
}


@functools.lru_cache(maxsize=1)
def entries() -> tuple[dict[str, Any], ...]:
    return tuple(load_yaml(DATA.read_text(encoding="utf-8"))["paraphrases"])


def verdict(entry: dict[str, Any]) -> str | None:
    """The check's reason code for the entry's paraphrase (None: accepted)."""
    catalog = gennx_catalog()
    calls = [GoldCall.model_validate(c) for c in entry["gold_calls"]]
    keep = keep_of(entry["template"], calls, catalog, call_names(calls, catalog))
    problem = turn_problem(entry["template"], keep, entry["paraphrase"])
    return problem[0] if problem else None


def test_the_set_is_big_and_balanced_enough() -> None:
    labels = [e["label"] for e in entries()]
    assert len(labels) >= 20 and len({e["id"] for e in entries()}) == len(labels)
    assert {"good", *REASONS} == set(labels)
    assert {e["language"] for e in entries()} == {"en", "ko"}
    assert 0.4 <= labels.count("good") / len(labels) <= 0.6


@pytest.mark.parametrize("entry", entries(), ids=lambda e: e["id"])
def test_each_labelled_paraphrase_gets_its_verdict(entry: dict[str, Any]) -> None:
    reason = verdict(entry)
    right = reason is None if entry["label"] == "good" else reason in REASONS[entry["label"]]
    assert right != bool(entry.get("check_misses")), (entry["id"], reason)


def test_accept_and_reject_rates(capsys: pytest.CaptureFixture[str]) -> None:
    good = [e for e in entries() if e["label"] == "good"]
    bad = [e for e in entries() if e["label"] != "good"]
    accepted = sum(verdict(e) is None for e in good)
    rejected = sum(verdict(e) is not None for e in bad)
    with capsys.disabled():
        print(
            f"\nhand-written paraphrases: good accepted {accepted}/{len(good)}, "
            f"defective rejected {rejected}/{len(bad)}"
        )
    assert accepted / len(good) >= 0.9 and rejected / len(bad) >= 0.9
