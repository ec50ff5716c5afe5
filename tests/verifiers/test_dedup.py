"""The dedup verifier and the two functions dataset assembly imports from it."""

from __future__ import annotations

import random
import string

import pytest

from tests.verifiers.verifier_fixtures import call, fixture_ctx, node, sample
from verifiers.dedup import DedupVerifier, dedup_key, near_duplicate_clusters, normalise_query
from verifiers.testing import check_verifier

T = ["post_db_node", "put_db_node"]


def codes(samples, verifier=None, ctx=None):
    verdicts = (verifier or DedupVerifier()).verify(samples, ctx or fixture_ctx())
    return [v.code for v in verdicts]


def test_exact_duplicate_after_normalisation_fails_and_first_passes():
    a = sample("Add node 1 at (0, 0, 0)", [node("1", 0, 0, 0)], T)
    b = sample("add  NODE 1 at (0,0,0)!", [node("1", 0.0, 0.0, 0.0)], T)
    assert codes([a, b]) == ["ok", "exact_duplicate"]


def test_same_query_with_different_calls_is_not_an_exact_duplicate():
    a = sample("Add node 1 at the origin", [node("1", 0, 0, 0)], T)
    b = sample("Add node 1 at the origin", [node("1", 0, 0, 1)], T)
    assert codes([a, b], DedupVerifier(DedupVerifier.Options(near=False))) == ["ok", "ok"]


def test_near_duplicate_query_for_the_same_tool_fails():
    a = sample("please add node 1 at the origin of the model", [node("1", 0, 0, 0)], T)
    b = sample(
        "please add node 1 at the origin of the models",
        [node("1", 0, 0, 0, "put_db_node")],
        ["put_db_node", "post_db_node"],
    )
    # (A trailing "now" or "please" would make an exact duplicate: normalisation drops them.)
    c = sample("please add node 1 at the origin of the models", [node("1", 0, 0, 0)], T)
    assert codes([a, b, c]) == ["ok", "ok", "near_duplicate"]


def test_the_first_occurrence_wins_whatever_its_content():
    a = sample("please add node 1 at the origin of the model now", [node("1", 0, 0, 0)], T)
    b = sample("please add node 1 at the origin of the model", [node("1", 0, 0, 0)], T)
    verdicts = DedupVerifier().verify([a, b], fixture_ctx())
    assert (verdicts[0].passed, verdicts[1].details["duplicate_of"]) == (True, a.id)


def test_threshold_option_controls_near_duplicates():
    a = sample(
        "weather in Paris for the next three days", [call("get_weather", city="Paris")], ["get_weather"]
    )
    b = sample(
        "weather in Paris for the next four days",
        [call("get_weather", city="Paris", days=4)],
        ["get_weather"],
    )
    assert codes([a, b], DedupVerifier(DedupVerifier.Options(threshold=0.6))) == ["ok", "near_duplicate"]
    assert codes([a, b], DedupVerifier(DedupVerifier.Options(threshold=0.95))) == ["ok", "ok"]


def test_kept_keys_carry_across_batches_through_the_context():
    ctx = fixture_ctx()
    a = sample("Add node 1 at the origin", [node("1", 0, 0, 0)], T)
    twin = sample("ADD node 1 at the origin.", [node("1", 0, 0, 0)], T)
    assert codes([a], ctx=ctx) == ["ok"]
    assert codes([twin], ctx=ctx) == ["exact_duplicate"]


def test_verifying_the_same_sample_again_is_not_a_duplicate_of_itself():
    ctx = fixture_ctx()
    a = sample("Add node 1 at the origin", [node("1", 0, 0, 0)], T)
    assert codes([a], ctx=ctx) + codes([a], ctx=ctx) == ["ok", "ok"]


def test_seen_file_preloads_keys(tmp_path):
    a = sample("Add node 1 at the origin", [node("1", 0, 0, 0)], T)
    seen = tmp_path / "seen.txt"
    seen.write_text(dedup_key(a) + "\n", "utf-8")
    assert codes([a], DedupVerifier(DedupVerifier.Options(seen_file=seen))) == ["exact_duplicate"]


def test_missing_seen_file_is_a_configuration_error(tmp_path):
    with pytest.raises(ValueError, match="seen_file"):
        DedupVerifier.Options(seen_file=tmp_path / "absent.txt")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  Add NODE 1,  at (0, 0, 0)! ", "add node 1 at 0 0 0"),
        ("Move it 3.5 m.", "move it 3.5 m"),
        ("절점 1번을  원점에, 추가해줘!", "절점 1번을 원점에 추가해줘"),
        ("ＦＵＬＬ width", "full width"),
        ("snake_case_word", "snake case word"),
    ],
)
def test_normalise_query(text, expected):
    assert normalise_query(text) == expected


def test_clusters_join_near_duplicates_and_use_the_first_index():
    texts = [
        "delete node 7",
        "please add node 1 at the origin now",
        "Please add node 1 at the origin",
        "delete node 8",
    ]
    assert near_duplicate_clusters(texts) == [0, 1, 1, 3]


def test_clusters_keep_distinct_texts_apart():
    texts = ["create a beam between nodes 1 and 2", "delete every load case", "show the reaction table"]
    assert near_duplicate_clusters(texts) == [0, 1, 2]


def test_clusters_agree_with_exact_jaccard_on_random_texts():
    rng = random.Random(7)
    base = ["".join(rng.choice(string.ascii_lowercase + " ") for _ in range(60)) for _ in range(40)]
    # 20 edited copies: 1-8 trailing characters replaced, so similarities spread around the threshold.
    texts = base + [t[: -(1 + i % 8)] + "Z" * (1 + i % 8) for i, t in enumerate(base[:20])]

    def shingles(t):
        t = normalise_query(t)
        return {t[i : i + 3] for i in range(len(t) - 2)}

    clusters = near_duplicate_clusters(texts, threshold=0.85)
    expected = [
        len(a & b) / len(a | b) >= 0.85
        for a, b in ((shingles(texts[i]), shingles(texts[40 + i])) for i in range(20))
    ]
    assert 0 < sum(expected) < 20  # the case mix really straddles the threshold
    assert [clusters[40 + i] == clusters[i] for i in range(20)] == expected


def test_clusters_handle_short_and_empty_texts():
    assert near_duplicate_clusters(["", "a", "a", "ab", ""]) == [0, 1, 1, 3, 0]


def test_dedup_verifier_conforms_to_the_plugin_contract():
    check_verifier(
        DedupVerifier, [sample("Add node 1", [node("1", 0, 0, 0)], ["post_db_node"])], fixture_ctx()
    )


def test_a_polite_closing_does_not_make_a_new_sample():
    # Issue 13: "…rev2.mgb, thanks" against "…rev2.mgb" was kept as a second sample.
    saveas = call("post_db_node", Assign={"1": {"X": 0, "Y": 0, "Z": 0}})
    a = sample("Save as D:/work/tower_rev2.mgb", [saveas], T)
    b = sample("Save as D:/work/tower_rev2.mgb, thanks", [saveas], T)
    c = sample("Please save as D:/work/tower_rev2.mgb!", [saveas], T)
    assert codes([a, b, c], DedupVerifier(DedupVerifier.Options(near=False))) == [
        "ok",
        "exact_duplicate",
        "exact_duplicate",
    ]


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("절점 추가해 줘. 부탁해요", "절점 추가해 줘"),
        ("thanks", "thanks"),  # a query that is only politeness stays itself
        ("Add the thanks note to node 1", "add the thanks note to node 1"),  # only at the ends
    ],
)
def test_polite_words_go_only_from_the_ends(text, normal):
    assert normalise_query(text) == normal


def test_a_multiple_sample_differing_from_a_simple_one_only_by_distractors_is_kept():
    # the planner makes exactly these for tools whose call cannot vary: choosing among distractors
    simple = sample("List the materials", [call("get_db_matl")], ["get_db_matl"])
    multiple = sample("List the materials", [call("get_db_matl")], ["get_db_sect", "get_db_matl"])
    other = sample("List the materials", [call("get_db_matl")], ["get_db_matl", "get_db_node"])
    assert codes([simple, multiple, other]) == ["ok", "ok", "ok"]


def test_the_same_offered_tools_in_another_order_is_still_a_duplicate():
    a = sample("List the materials", [call("get_db_matl")], ["get_db_sect", "get_db_matl"])
    b = sample("list the materials!", [call("get_db_matl")], ["get_db_matl", "get_db_sect"])
    assert dedup_key(a) == dedup_key(b)
    assert codes([a, b]) == ["ok", "exact_duplicate"]


def test_near_duplicates_are_judged_among_samples_offering_the_same_tools():
    a = sample("please list all the materials in the model", [call("get_db_matl")], ["get_db_matl"])
    b = sample(
        "please list all the materials in the models", [call("get_db_matl")], ["get_db_matl", "get_db_sect"]
    )
    c = sample("please list all the materials in the models", [call("get_db_matl")], ["get_db_matl"])
    assert codes([a, b, c]) == ["ok", "ok", "near_duplicate"]
