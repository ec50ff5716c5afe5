"""Constrained decoding on the UNTRAINED tiny model: every reply is a valid call of an offered tool.

Without constraints the random model writes no usable call; with them, every reply parses and passes
the format verifier, for the test tools and for GEN NX-shaped tools (maps with numeric keys), even
when the token budget leaves almost no slack.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.openapi import ingest
from schemas.records import to_trl
from tests.trainer.evaluation.evaluation_fixtures import SANDBOX_SPECS
from trainer.evaluation.backends import ModelSpec
from trainer.evaluation.config import EvaluateConfig
from trainer.evaluation.constrained import ConstrainedDecoder
from trainer.evaluation.evaluate import evaluate
from trainer.inference import LocalModel
from trainer.replies import parse_tool_calls
from verifiers.format import check_call


@pytest.fixture(scope="module")
def model(tiny_model: Path) -> LocalModel:
    return LocalModel.load(tiny_model, device="cpu")


@pytest.fixture(scope="module")
def decoder(model: LocalModel) -> ConstrainedDecoder:
    return ConstrainedDecoder(model)


@pytest.fixture(scope="module")
def records(samples_factory, records_factory) -> list[dict]:
    return records_factory(samples_factory(6, seed=5))  # all three tools offered each time


def valid_calls(reply: str, offered: list[dict], tools) -> bool:
    """The reply parses into at least one call, each of an offered tool and schema-valid."""
    parsed = parse_tool_calls(reply)
    names = {t["function"]["name"] for t in offered}
    return (
        parsed.error is None
        and bool(parsed.calls)
        and all(c.name in names and not check_call(tools.get(c.name), c) for c in parsed.calls)
    )


def test_untrained_model_writes_no_valid_call_unconstrained(model, records, tools) -> None:
    replies = model.generate(
        [r["messages"][:2] for r in records], [r["tools"] for r in records], max_new_tokens=48
    )
    assert not any(valid_calls(reply, r["tools"], tools) for reply, r in zip(replies, records, strict=True))


def test_untrained_model_writes_only_valid_calls_constrained(decoder, records, tools) -> None:
    replies = decoder.generate(
        [r["messages"][:2] for r in records], [r["tools"] for r in records], max_new_tokens=48
    )
    assert all(valid_calls(reply, r["tools"], tools) for reply, r in zip(replies, records, strict=True)), (
        replies
    )


def test_replies_finish_within_a_tight_budget(decoder, records, tools) -> None:
    grammar = decoder.grammar(records[0]["tools"])
    budget = grammar.cost(grammar.start()) + 2  # the shortest reply, in tokens, and two to spare
    replies = decoder.generate(
        [r["messages"][:2] for r in records], [r["tools"] for r in records], max_new_tokens=budget
    )
    assert all(valid_calls(reply, r["tools"], tools) for reply, r in zip(replies, records, strict=True)), (
        replies
    )


def test_gennx_shaped_tools_get_valid_calls(decoder) -> None:
    from schemas.models import Sample

    catalog = ingest([str(SANDBOX_SPECS / "gennx_mini.yaml")], naming="snake").catalog
    offered = ["post_db_node", "put_db_node", "post_db_matl", "post_doc_anal"]
    samples = [
        Sample.create(query=q, language="en", style="irrelevance", tools=offered, calls=[])
        for q in ("Add node 3 at the origin.", "Define steel material 1.", "Run the analysis.")
    ]
    records = [to_trl(s, catalog.by_name) for s in samples]
    replies = decoder.generate(
        [r["messages"][:2] for r in records], [r["tools"] for r in records], max_new_tokens=80
    )
    assert all(
        valid_calls(reply, r["tools"], catalog.by_name) for reply, r in zip(replies, records, strict=True)
    ), replies


def test_evaluation_reports_both_ways(
    tiny_model: Path, samples_factory, dataset_saver, tmp_path: Path
) -> None:
    samples = samples_factory(6, seed=6)
    dataset = dataset_saver(tmp_path / "dataset", {"test_seen": samples[:3], "test_unseen": samples[3:]})
    spec = ModelSpec(label="tiny", model=str(tiny_model), device="cpu", constrained=True)
    result = evaluate(dataset, [spec], EvaluateConfig(max_new_tokens=48), tmp_path / "out")
    assert list(result.metrics["models"]) == ["tiny", "tiny+constrained"]
    for split in ("test_seen", "test_unseen"):
        plain = result.metrics["models"]["tiny"]["splits"][split]["overall"]
        constrained = result.metrics["models"]["tiny+constrained"]["splits"][split]["overall"]
        assert constrained["schema_validity"]["value"] == 1.0 and constrained["schema_validity"]["n"] >= 3
        assert plain["schema_validity"]["value"] * plain["schema_validity"]["n"] < 3
        # The untrained model's report does not flatter it: without a readable call its replies are
        # neither parseable nor right, and the chance row shows what guessing a tool would score.
        assert plain["parse_validity"]["value"] < 1.0 and plain["ast_match"]["value"] == 0.0
        assert plain["call_rate"]["value"] == plain["parse_validity"]["value"]
        assert constrained["call_rate"]["value"] == 1.0
        assert constrained["tool_choice_chance"]["value"] == pytest.approx(1 / 3)


def _iehc_like_tool() -> dict:
    """GEN NX's put_db_iehc shape: ``Assign`` maps digit-string row ids to a ``$ref`` row schema with
    eight required properties (what the budget used to miss)."""
    row = {
        "type": "object",
        "properties": {
            **{k: {"type": "integer"} for k in ("BEAM_LOC", "BeamDivNumNy", "BeamDivNumNz", "FAreaSizeCore")},
            **{k: {"type": "integer"} for k in ("FAreaSizeCover", "BeamDivNumNyCover", "BeamDivNumNzCover")},
            "OPT_ConsiderRebarArea1D": {"type": "boolean"},
            "dR": {"type": "number"},
            "WAreaSize": {"type": "string"},
        },
        "required": [
            "BEAM_LOC",
            "OPT_ConsiderRebarArea1D",
            "FAreaSizeCore",
            "BeamDivNumNy",
            "BeamDivNumNz",
            "FAreaSizeCover",
            "BeamDivNumNyCover",
            "BeamDivNumNzCover",
        ],
    }
    parameters = {
        "type": "object",
        "properties": {
            "Assign": {
                "type": "object",
                "propertyNames": {"pattern": "^[0-9]+$"},
                "minProperties": 1,
                "additionalProperties": {"$ref": "#/$defs/IEHC_Item"},
            }
        },
        "required": ["Assign"],
        "additionalProperties": False,
        "$defs": {"IEHC_Item": row},
    }
    return {
        "type": "function",
        "function": {"name": "put_db_iehc", "description": "rows", "parameters": parameters},
    }


def test_map_values_with_required_properties_are_never_cut_off(decoder) -> None:
    import jsonschema

    tool = _iehc_like_tool()
    grammar = decoder.grammar([tool])
    shortest = grammar.cost(grammar.start())
    # The shortest call names all eight required properties of one row.
    required = tool["function"]["parameters"]["$defs"]["IEHC_Item"]["required"]
    assert shortest > sum(decoder.measure(f'"{key}": ') for key in required)
    messages = [[{"role": "user", "content": f"Update hinge row {i}."}] for i in range(3)]
    for budget in (shortest - 1, shortest, shortest + 3, shortest + 40):
        replies = decoder.generate(messages, [[tool]] * 3, max_new_tokens=budget)
        for reply, hit in zip(replies, decoder.last_budget_hits, strict=True):
            if budget < shortest:  # no call fits: no call, rather than one cut off
                assert reply == "" and hit
                continue
            parsed = parse_tool_calls(reply)
            assert parsed.error is None and parsed.calls, (budget, reply)
            for call in parsed.calls:
                jsonschema.validate(call.arguments, tool["function"]["parameters"])
