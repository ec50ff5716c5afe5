"""The label-quality figures of benchmarks/dataset_quality.py on the full default GEN NX plan, each at its
goal (ambiguity < 1 % per language, no empty rows, no per-id deletes, no row written twice in parallel,
every checked engineering range). The figures are judged from the spec's names and the script's own
verb lexicon, not from the generator's phrase tables."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from generators.offline import OfflineGenerator
from generators.plan import build_plan
from schemas.openapi import ingest
from tests.generators.catalog_fixtures import GENNX_SPEC, GENNX_TIERS
from verifiers.format import sample_issues

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "dataset_quality.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dataset_quality", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["dataset_quality"] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow  # the whole default plan: ~10,000 samples, ~25 s on 2 cores
def test_every_label_quality_figure_meets_its_goal_on_a_full_gennx_run() -> None:
    """Ingests and labels the whole GEN NX spec: the label-quality goals are about the full catalog."""
    quality = _script()
    with GENNX_SPEC.open(encoding="utf-8") as fh:
        names = quality.Names(yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
    catalog = ingest([str(GENNX_SPEC)], tier_rules=str(GENNX_TIERS)).catalog
    names.alias({t.name: t.source.operation_id or t.name for t in catalog})
    samples, failures = OfflineGenerator(catalog).generate(build_plan(catalog))
    tools = {t.name: t for t in catalog}
    assert failures == [] and len(samples) > 9_000
    accepted = [s for s in samples if not sample_issues(s, tools)]
    assert len(accepted) == len(samples)
    found = quality.figures(accepted, names)
    assert len(found) == 10 and all(f.total > 0 for f in found)
    assert [(f.label, f.bad, f.total) for f in found if not f.met] == []


def test_the_measures_catch_what_they_measure() -> None:
    """Each check on hand-made bad labels (a measure that cannot fail proves nothing)."""
    quality = _script()
    spec = {
        "paths": {
            "/db/NODE": {
                "x-callforge-names": {"en": "Node (NODE)", "ko": "절점"},
                **{m: {"operationId": f"{m}_db_node", "summary": f"{v} Node (NODE) records"}
                   for m, v in (("post", "Create"), ("delete", "Clear all"), ("get", "Read all"))},
            },
            "/db/NMAS": {
                "x-callforge-names": {"en": "Nodal Masses (NMAS)", "ko": "절점 질량"},
                "post": {"operationId": "post_db_nmas", "summary": "Create Nodal Masses (NMAS) records"},
            },
        }
    }  # fmt: skip
    names = quality.Names(spec)
    assert names.fits("post_db_node", "절점을 추가해줘: 3번(X 1)", "ko")
    assert not names.fits("post_db_node", "절점 질량을 추가해줘: 3번(MX 1)", "ko")  # the longer name wins
    assert not names.fits("get_db_node", "절점을 추가해줘: 3번(X 1)", "ko")  # the verb contradicts GET
    assert names.fits("delete_db_node", "Clear all Node (NODE) records.", "en")
    assert list(quality.empty_objects({"Assign": {"3": {}}}, in_row=True)) == ["row 3"]
    assert list(quality.empty_objects({"L": [{}, {"A": 1}]})) == ["list item"]
    assert list(quality.range_problems("post_db_matl", {"Assign": {"1": {"TYPE": "EQ"}}})) != []
    assert (
        list(quality.range_problems("post_db_elem", {"Assign": {"1": {"TYPE": "BEAM", "NODE": [4]}}})) != []
    )
    poisson = {"Assign": {"1": {"TYPE": "CONC", "PARAM": [{"POISN": 19.6}]}}}
    assert list(quality.range_problems("post_db_matl", poisson)) != []
    assert list(quality.range_problems("post_db_matl", {"Assign": {"1": {"DAMP_RAT": 39}}})) != []
    factor = {"Assign": {"1": {"vCOMB": [{"FACTOR": "pier-48"}]}}}
    assert list(quality.range_problems("post_db_lcom_gen", factor)) != []
