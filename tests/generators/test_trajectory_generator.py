"""The offline trajectory generator: shape of what it writes, determinism, and that the verifier accepts it."""

from __future__ import annotations

import functools
import re
from collections import Counter
from pathlib import Path

import pytest

from generators.trajectories import TrajectoryGenerator
from schemas.openapi.load import DocumentSet
from schemas.reference_heuristics import infer_references
from schemas.references import load_references
from schemas.trajectories import Trajectory, write_trajectories
from tests.verifiers.gennx_fixtures import gennx_catalog

ROOT = Path(__file__).resolve().parents[2]


@functools.lru_cache(maxsize=1)
def generator() -> TrajectoryGenerator:
    spec = ROOT / "specs" / "gennx" / "openapi.yaml"
    graph = load_references(ROOT / "specs" / "gennx" / "references.yaml").merged(
        infer_references(DocumentSet(spec).root)
    )
    return TrajectoryGenerator(gennx_catalog(), graph)


def _draw(count: int, seed: int = 3) -> list[Trajectory]:
    out = list(generator().generate(count, seed=seed))
    assert all(isinstance(t, Trajectory) for t in out), [t for t in out if isinstance(t, str)]
    return out  # type: ignore[return-value]


def test_every_crud_table_of_gennx_is_a_walk_start() -> None:
    assert len(generator().tables) >= 200
    assert {"NODE", "ELEM", "CNLD", "CONS", "LCOM-GEN"} <= set(generator().tables)


def test_the_same_seed_draws_the_same_trajectories() -> None:
    assert [t.to_json_line() for t in _draw(12, seed=9)] == [t.to_json_line() for t in _draw(12, seed=9)]
    assert [t.id for t in _draw(6, seed=9)] != [t.id for t in _draw(6, seed=10)]


def test_trajectories_have_2_to_5_turns_and_3_to_8_calls_in_every_category_and_language() -> None:
    drawn = _draw(4 * 207)
    assert Counter(t.category for t in drawn).keys() == {"base", "miss_param", "miss_func", "long_context"}
    assert set(Counter(t.language for t in drawn)) == {"en", "ko"}
    for t in drawn:
        calls = sum(len(turn.gold_calls) for turn in t.turns)
        assert 2 <= len(t.turns) <= 5 and 3 <= calls <= 8, (t.id, len(t.turns), calls)
        assert (t.missed_function is not None) == (t.category == "miss_func")
        assert not any(m["role"] == "tool" for m in t.messages)  # the verifier fills them from the replay


def test_a_dependent_row_points_at_the_prerequisite_created_before_it() -> None:
    elem = next(t for t in _draw(207) if t.id.startswith("gen-ELEM-"))
    created_node = next(iter(elem.turns[0].gold_calls[0].arguments["Assign"]))
    element = next(iter(elem.turns[1].gold_calls[0].arguments["Assign"].values()))
    assert elem.turns[0].gold_calls[0].name == "post_db_node"
    assert int(created_node) in element["NODE"]
    assert all(str(n) in elem.initial_state["NODE"] or str(n) == created_node for n in element["NODE"])


def test_miss_func_withholds_the_create_tool_until_the_turn_after_it_is_asked_for() -> None:
    t = next(t for t in _draw(2 * 207) if t.category == "miss_func")
    ((turn, names),) = t.missed_function.items()
    asked = int(turn) - 1
    assert t.turns[asked].gold_calls == [] and t.turns[int(turn)].gold_calls[0].name == names[0]
    assert names[0] not in t.offered(asked) and names[0] in t.offered(int(turn))


@pytest.mark.slow
def test_the_verifier_accepts_what_the_generator_writes(tmp_path: Path) -> None:
    from verifiers.trajectory import verify_trajectory_file

    drawn = _draw(48, seed=21)
    path = tmp_path / "generated.jsonl"
    write_trajectories(path, drawn)
    summary = verify_trajectory_file(path, gennx_catalog(), tmp_path / "out", sandbox_mode="thread")
    assert summary.valid == summary.total == 48, summary.lines()


def test_surface_variants_of_a_blueprint_never_read_the_same() -> None:
    from verifiers.trajectory import blueprint_key

    drawn = _draw(4 * 207)
    keys = Counter(blueprint_key(t) for t in drawn)
    assert max(keys.values()) == 1  # the verifier would reject a repeat as duplicate_trajectory


def test_a_state_dependent_turn_reads_first_and_changes_a_row_named_by_a_property() -> None:
    found = 0
    for t in _draw(2 * 207):
        for user, turn in zip([m for m in t.messages if m["role"] == "user"], t.turns, strict=True):
            names = [c.name for c in turn.gold_calls]
            if len(names) != 2:
                continue
            found += 1
            assert names[0].startswith("get_db_") and names[1].startswith("put_db_")
            (row_id,) = turn.gold_calls[1].arguments["Assign"]
            table = gennx_catalog()[names[1]].binding.path[len("/db/") :]
            seeded = t.initial_state[table][row_id]  # a row that was there before the conversation
            assert row_id not in user["content"].split()  # named by a property, not by its id
            assert any(
                f"{field} " in user["content"] and str(value) in user["content"]
                for field, value in seeded.items()
            )
    assert found >= 20


def test_a_catalog_without_crud_tables_is_refused_with_what_to_do() -> None:
    from schemas.catalog import Catalog
    from schemas.references import ReferenceGraph

    empty = TrajectoryGenerator(Catalog([gennx_catalog()["get_db_node"]]), ReferenceGraph())
    with pytest.raises(ValueError, match="naming 'snake'"):
        next(iter(empty.generate(1)))


def test_no_trajectory_offers_a_tool_over_the_schema_bound_or_the_budget() -> None:
    import json

    from generators.trajectories import MAX_TOOL_CHARS, TOOL_BUDGET_CHARS

    g = generator()
    assert not g.startable("SECT")  # post_db_sect is 37k characters: SECT is only ever seeded
    for t in _draw(600):
        sizes = [len(json.dumps(tool, ensure_ascii=False, separators=(",", ":"))) for tool in t.tools]
        assert max(sizes) <= MAX_TOOL_CHARS, t.id
        assert sum(sizes) <= TOOL_BUDGET_CHARS, t.id


def test_over_eight_rounds_every_table_meets_every_category_and_language() -> None:
    # The old round-robin gave table i category i % 4 in every round when the table count + 1 was a
    # multiple of 4 (GEN NX: 207 CRUD tables, 197 startable -- and 207 before the schema bound).
    g = generator()
    starts = sorted(k for k in g.tables if g.startable(k))
    drawn = list(g.generate(len(starts) * 8, seed=1, variants=1))
    seen: dict[str, set[tuple[str, str]]] = {}
    for t in drawn:
        if isinstance(t, Trajectory):
            table = t.id[len("gen-") :].rsplit("-", 4)[0]
            seen.setdefault(table, set()).add((t.category, t.language))
    full = [k for k, pairs in seen.items() if len(pairs) == 8]
    assert len(full) >= 0.95 * len(starts), f"{len(full)} of {len(starts)} tables got all 8 pairs"


def test_a_user_turn_is_asked_for_once_not_framed_twice() -> None:
    """The clause may already ask ("I need you to …", "please …", "…수정해줘"); a frame around it must not
    ask again ("Could you I need you to", "Please please", "수정해줘 부탁해.")."""
    doubled = re.compile(
        r"(could you|please),? (i need you to|please)\b|(줘|해) 부탁해|부탁해 부탁해", re.IGNORECASE
    )
    turns = [m["content"] for t in _draw(400, seed=5) for m in t.messages if m["role"] == "user"]
    assert len(turns) > 1000
    assert [t for t in turns if doubled.search(t)] == []
    # the frames still apply where the clause does not ask: both languages keep their framed forms
    assert any(t.startswith("Could you ") for t in turns)
    assert any(t.rstrip().endswith("부탁해.") for t in turns)
