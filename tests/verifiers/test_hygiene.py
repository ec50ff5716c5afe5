"""Sample hygiene in the format verifier: length caps, control and bidirectional characters."""

from __future__ import annotations

import pytest

from tests.verifiers.gennx_fixtures import gennx_ctx, gennx_sample
from verifiers.format import FormatVerifier

NODE = ("post_db_node", {"Assign": {"1": {"X": 0, "Y": 0, "Z": 0}}})
TOOLS = ["post_db_node", "put_db_node"]


def check(sample, **options):
    return FormatVerifier(FormatVerifier.Options(**options)).verify([sample], gennx_ctx())[0]


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("Add a node at the origin.\x00", "control_character"),
        ("Add a node at the origin.\x07", "control_character"),
        ("\x1b[2JAdd a node at the origin.", "control_character"),
        ("Add a node at \u202ethe origin", "bidi_control"),
        ("Add a node at \u2066the origin\u2069", "bidi_control"),
        ("Add a node at the origin.\x85", "control_character"),  # C1 "next line"
    ],
    ids=["nul", "bel", "ansi-clear-screen", "rlo", "isolate", "c1"],
)
def test_hostile_characters_in_the_query_are_rejected(query, code):
    result = check(gennx_sample(query, [NODE], TOOLS))
    assert result.passed is False and result.code == code


def test_a_five_megabyte_query_is_rejected_with_its_size():
    result = check(gennx_sample("Add a node at the origin. " + "x" * 5_200_000, [NODE], TOOLS))
    assert result.code == "query_too_long"
    assert "5,200,026" in result.message


def test_caps_are_configurable_and_zero_turns_them_off():
    sample = gennx_sample("Add a node at the origin, " + "please " * 30, [NODE], TOOLS)
    assert check(sample, max_query_chars=100).code == "query_too_long"
    assert check(sample, max_query_chars=0).passed is True


def test_a_long_or_hostile_string_value_is_rejected_with_its_pointer():
    path = ("post_doc_saveas", {"Argument": "C:/out/frame.mgb\x00.exe"})
    result = check(
        gennx_sample("Save the project as C:/out/frame.mgb", [path], ["post_doc_saveas", "post_doc_save"])
    )
    assert result.code == "control_character" and result.details["call_index"] == 0
    long_name = ("post_db_ldgr", {"Assign": {"1": {"NAME": "L" * 50}}})
    sample = gennx_sample("Create a load group", [long_name], ["post_db_ldgr", "post_db_bngr"])
    assert check(sample, max_value_chars=20).code == "value_too_long"
    assert check(sample, max_value_chars=20).details["pointer"] == "/Assign/1/NAME"


def test_ordinary_text_passes():
    # Tabs, newlines, Korean, and the left-to-right / right-to-left MARKS are legitimate text.
    query = "원점에 절점 하나 추가해 줘.\n\tThanks\u200e, 고마워\u200f"
    assert check(gennx_sample(query, [NODE], TOOLS)).passed is True


@pytest.mark.parametrize(
    "arguments",
    [
        {"Assign": {"3": {"x": 3, "y": 4, "z": 0}}},
        {"Assign": {"3": {"X": 3, "Y": 4, "Zcoord": 0}}},
    ],
    ids=["lower-case-xyz", "Zcoord"],
)
def test_a_misspelt_node_field_is_rejected(arguments):
    result = check(gennx_sample("Add node 3 at (3, 4, 0).", [("post_db_node", arguments)], TOOLS))
    assert result.passed is False and result.code == "unexpected_argument"


def test_force_z_for_fz_is_rejected_inside_the_items_list():
    arguments = {"Assign": {"5": {"ITEMS": [{"ID": 1, "LCNAME": "LL", "FORCE_Z": -10}]}}}
    result = check(
        gennx_sample(
            "Apply 10 kN down at node 5 (LL).", [("post_db_cnld", arguments)], ["post_db_cnld", "get_db_cnld"]
        )
    )
    assert result.code == "unexpected_argument"
    assert result.details["pointer"] == "/Assign/5/ITEMS/0/FORCE_Z"


def test_ordinary_string_values_pass_even_when_not_printable():
    # The fast path hands tab, newline and LRM to the precise pass, which clears them.
    name = ("post_db_ldgr", {"Assign": {"1": {"NAME": "Live\tload\n\u200e층"}}})
    path = ("post_doc_open", {"Argument": "C:\\x00models\\hall.mgb"})  # a backslash, not a NUL
    assert check(gennx_sample("Create a load group", [name], ["post_db_ldgr", "post_db_bngr"])).passed is True
    assert (
        check(
            gennx_sample("Open C:\\x00models\\hall.mgb", [path], ["post_doc_open", "post_doc_close"])
        ).passed
        is True
    )


@pytest.mark.parametrize(
    ("arguments", "code", "pointer"),
    [
        # The row id matches the schema's ^[0-9]+$, so only the cap on keys can catch it (the fast check
        # once skipped key lengths and passed this sample).
        ({"Assign": {"1" * 50: {"X": 0, "Y": 0, "Z": 0}}}, "value_too_long", "/Assign/" + "1" * 50),
        (
            {"Assign": {"1": {"X": 0, "Y": 0, "Z": 0}, "2\u202e": {"X": 1, "Y": 0, "Z": 0}}},
            "bidi_control",
            "/Assign/2\u202e",
        ),
    ],
    ids=["overlong-row-id", "bidi-in-second-row-id"],
)
def test_map_keys_are_capped_and_checked_cold_and_warm(arguments, code, pointer):
    sample = gennx_sample("Add the nodes.", [("post_db_node", arguments)], TOOLS)
    verifier, ctx = FormatVerifier(FormatVerifier.Options(max_value_chars=20)), gennx_ctx()
    # The first sample resolves the catalog's validators; the second takes the fast path.
    cold, warm = verifier.verify([sample, sample.model_copy()], ctx)
    for result in (cold, warm):
        assert (result.passed, result.code, result.details["pointer"]) == (False, code, pointer)


def test_a_control_character_in_a_string_inside_a_list_of_rows_is_found():
    items = [{"ID": 1, "LCNAME": "LL", "FZ": -10}, {"ID": 2, "LCNAME": "D\x1bL", "FZ": -5}]
    arguments = {"Assign": {"5": {"ITEMS": items}}}
    result = check(
        gennx_sample("Load node 5.", [("post_db_cnld", arguments)], ["post_db_cnld", "post_db_node"])
    )
    assert (result.passed, result.code, result.details["pointer"]) == (
        False,
        "control_character",
        "/Assign/5/ITEMS/1/LCNAME",
    )
