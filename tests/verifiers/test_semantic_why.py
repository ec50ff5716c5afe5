"""Every example quoted in issue 13's "Why", against the real GEN NX catalog: correct samples a real
teacher writes must pass the semantic verifier, the wrong ones must fail with the right code."""

from __future__ import annotations

import pytest

from tests.verifiers.gennx_fixtures import gennx_ctx, gennx_sample
from verifiers.semantic import SemanticVerifier

NODE_TOOLS = ["post_db_node", "put_db_node", "delete_db_node", "get_db_node"]
CONS_TOOLS = ["post_db_cons", "put_db_cons", "get_db_cons"]


def verdict(sample):
    verifier = SemanticVerifier(SemanticVerifier.Options(similarity="lexical"))
    return verifier.verify([sample], gennx_ctx())[0]


def node_row(row: str, **xyz: float) -> tuple[str, dict]:
    return "post_db_node", {"Assign": {row: xyz}}


# (id, query, calls, offered, language) — each was a false reject of the old verifier.
CORRECT = [
    ("assign-row-key-1", "Add a node at the origin.", [node_row("1", X=0, Y=0, Z=0)], NODE_TOOLS, "en"),
    (
        "items-id-1",
        "Apply a 10 kN downward load at node 5 in load case LL.",
        [("post_db_cnld", {"Assign": {"5": {"ITEMS": [{"ID": 1, "LCNAME": "LL", "FZ": -10}]}}})],
        ["post_db_cnld", "post_db_bmld"],
        "en",
    ),
    (
        "fixed-support-code",
        "Give node 1 a fixed support.",
        [("post_db_cons", {"Assign": {"1": {"ITEMS": [{"ID": 1, "CONSTRAINT": "1111111"}]}}})],
        CONS_TOOLS,
        "en",
    ),
    (
        "concrete-conc",
        "Create material 1: concrete, name it Conc, grade C24 from the KS01(RC) database.",
        [
            (
                "post_db_matl",
                {
                    "Assign": {
                        "1": {
                            "TYPE": "CONC",
                            "NAME": "Conc",
                            "PARAM": [{"P_TYPE": 1, "STANDARD": "KS01(RC)", "DB": "C24"}],
                        }
                    }
                },
            )
        ],
        ["post_db_matl", "get_db_matl"],
        "en",
    ),
    (
        "all-to-All",
        "Show all parts of the model in the view.",
        [("post_view_active", {"Argument": {"ACTIVE_MODE": "All"}})],
        ["post_view_active", "post_view_display", "post_view_angle"],
        "en",
    ),
    (
        "counted-range",
        "Make a structure group 'Columns' containing nodes 1 through 4.",
        [("post_db_grup", {"Assign": {"1": {"NAME": "Columns", "N_LIST": [1, 2, 3, 4]}}})],
        ["post_db_grup", "post_db_bngr", "post_db_ldgr"],
        "en",
    ),
    (
        "mm-to-m",
        "Put a node 1500 mm straight above the origin.",
        [node_row("1", X=0, Y=0, Z=1.5)],
        NODE_TOOLS,
        "en",
    ),
    (
        "downward-negative",
        "5번 절점에 하향 20 kN 집중하중을 DL 케이스로 줘.",
        [("post_db_cnld", {"Assign": {"5": {"ITEMS": [{"ID": 1, "LCNAME": "DL", "FZ": -20}]}}})],
        ["post_db_cnld", "post_db_bmld"],
        "ko",
    ),
    (
        "move-not-delete",
        "Move node 3 to (2, 0, 6).",
        [("put_db_node", {"Assign": {"3": {"X": 2, "Y": 0, "Z": 6}}})],
        NODE_TOOLS,
        "en",
    ),
    (
        "save-as-not-save",
        "Save as D:/work/tower_rev2.mgb, thanks",
        [("post_doc_saveas", {"Argument": "D:/work/tower_rev2.mgb"})],
        ["post_doc_save", "post_doc_saveas", "post_doc_export"],
        "en",
    ),
    (
        "korean-open-file",
        "D:/models/bridge.mgb 파일 열어 줘.",
        [("post_doc_open", {"Argument": "D:/models/bridge.mgb"})],
        ["post_doc_open", "post_doc_anal", "post_doc_close"],
        "ko",
    ),
    (
        "both-is-not-a-request",
        "Fully fix both ends of the girder, nodes 1 and 11.",
        [
            (
                "post_db_cons",
                {
                    "Assign": {
                        "1": {"ITEMS": [{"ID": 1, "CONSTRAINT": "1111111"}]},
                        "11": {"ITEMS": [{"ID": 1, "CONSTRAINT": "1111111"}]},
                    }
                },
            )
        ],
        CONS_TOOLS,
        "en",
    ),
]

# (id, query, calls, offered, language, expected code) — each was a miss.
WRONG = [
    (
        "question-answered-with-call",
        "What does the CONSTRAINT code 1111000 mean?",
        [("post_db_cons", {"Assign": {"1": {"ITEMS": [{"ID": 1, "CONSTRAINT": "1111000"}]}}})],
        ["post_db_cons", "get_db_cons"],
        "en",
        "question_answered_with_call",
    ),
    (
        "already-english",
        "Load case DL already exists, so just add LL as a live load.",
        [("post_db_stld", {"Assign": {"1": {"NAME": "DL", "TYPE": "D"}}})],
        ["post_db_stld", "get_db_stld"],
        "en",
        "value_not_wanted",
    ),
    (
        "already-korean",
        "DL은 이미 있으니까 LL만 활하중으로 추가해 줘.",
        [("post_db_stld", {"Assign": {"1": {"NAME": "DL", "TYPE": "D"}, "2": {"NAME": "LL", "TYPE": "L"}}})],
        ["post_db_stld", "get_db_stld"],
        "ko",
        "value_not_wanted",
    ),
    (
        "not-x-but-y-korean",
        "절점 4는 Z 3이 아니라 4 m로 옮겨 줘.",
        [("put_db_node", {"Assign": {"4": {"Z": 3}}})],
        NODE_TOOLS,
        "ko",
        "value_not_wanted",
    ),
    (
        "dropped-call-geurigo",
        "DL 케이스 만들고 그리고 해석 실행해 줘.",
        [("post_db_stld", {"Assign": {"1": {"NAME": "DL", "TYPE": "D"}}})],
        ["post_db_stld", "post_doc_anal"],
        "ko",
        "call_count_mismatch",
    ),
    (
        "dropped-call-handaeum",
        "절점 1을 원점에 추가한 다음 저장해 줘.",
        [node_row("1", X=0, Y=0, Z=0)],
        ["post_db_node", "post_doc_save"],
        "ko",
        "call_count_mismatch",
    ),
    (
        "file-name-v2-for-final",
        "Open C:\\Projects\\hall_final.mgb.",
        [("post_doc_open", {"Argument": "C:\\Projects\\hall_v2.mgb"})],
        ["post_doc_open", "post_doc_import"],
        "en",
        "ungrounded_value",
    ),
    (
        "nodes-read-with-element-tool",
        "Show me all the nodes.",
        [("get_db_elem", {})],
        ["get_db_node", "get_db_elem", "get_ope_projectstatus"],
        "en",
        "wrong_tool_choice",
    ),
]


@pytest.mark.parametrize(
    ("query", "calls", "tools", "language"), [c[1:] for c in CORRECT], ids=[c[0] for c in CORRECT]
)
def test_correct_sample_from_the_issue_passes(query, calls, tools, language):
    result = verdict(gennx_sample(query, calls, tools, language))
    assert result.passed is True, result.details.get("issues")


@pytest.mark.parametrize(
    ("query", "calls", "tools", "language", "code"), [c[1:] for c in WRONG], ids=[c[0] for c in WRONG]
)
def test_wrong_sample_from_the_issue_fails_with_its_code(query, calls, tools, language, code):
    result = verdict(gennx_sample(query, calls, tools, language))
    assert result.passed is False
    assert code in {issue["code"] for issue in result.details["issues"]}, result.details["issues"]


def test_a_data_question_answered_with_a_read_passes():
    # The question check must not turn every question into a rejection: this one wants model data.
    sample = gennx_sample(
        "Which version of GEN NX is this?", [("get_config_ver", {})], ["get_config_ver", "get_config_project"]
    )
    assert verdict(sample).passed is True


def test_file_name_check_wants_the_stated_path_not_its_words():
    # Word coverage accepted hall_v2.mgb for hall_final.mgb (3 of 4 words); the exact file name passes.
    good = gennx_sample(
        "Open C:\\Projects\\hall_final.mgb.",
        [("post_doc_open", {"Argument": "C:\\Projects\\hall_final.mgb"})],
        ["post_doc_open", "post_doc_import"],
    )
    assert verdict(good).passed is True


def test_row_key_contradicted_by_the_query_is_ungrounded():
    # Bookkeeping keys are 1..n only while the query names no other id: "node 5" answered as row 6.
    sample = gennx_sample(
        "5번 절점에 하향 20 kN 집중하중을 DL 케이스로 줘.",
        [("post_db_cnld", {"Assign": {"6": {"ITEMS": [{"ID": 1, "LCNAME": "DL", "FZ": -20}]}}})],
        ["post_db_cnld", "post_db_bmld"],
        "ko",
    )
    result = verdict(sample)
    assert result.passed is False and result.code == "ungrounded_value"


def test_upward_load_given_negative_is_a_sign_mistake():
    sample = gennx_sample(
        "Apply 15 kN pointing up at node 2, case LL.",
        [("post_db_cnld", {"Assign": {"2": {"ITEMS": [{"ID": 1, "LCNAME": "LL", "FZ": -15}]}}})],
        ["post_db_cnld", "post_db_bmld"],
    )
    issues = verdict(sample).details["issues"]
    assert [i.get("why") for i in issues if i["code"] == "ungrounded_value"] == ["sign"]


def test_unconverted_millimetres_are_a_unit_mistake():
    sample = gennx_sample(
        "Put a node 1500 mm straight above the origin.", [node_row("1", X=0, Y=0, Z=1500)], NODE_TOOLS
    )
    issues = verdict(sample).details["issues"]
    assert [i.get("why") for i in issues if i["code"] == "ungrounded_value"] == ["unit"]
