"""A boolean switched on in words, words that label a set argument, and two clauses editing one row.

Cases the teacher replay set (issue 21) surfaced: a careful teacher writes "damping computed on demand"
for ``OPT_CALC_WHEN_USED: true`` and "이름을 SOIL-K로 바꾸고 강성은 … 넣어줘" for one row of one call.
Each check also keeps its defective twin rejected.
"""

from __future__ import annotations

from typing import Any

from verifiers.alignment import distinct_requests, unanswered_items
from verifiers.grounding import QueryFacts, grounded, leaves
from verifiers.intent import request_clauses
from verifiers.lexicon import names_term

_ROW = {
    "type": "object",
    "properties": {
        "NAME": {"type": "string"},
        "SPRING": {"type": "array", "items": {"type": "number"}},
        "OPT_CALC_WHEN_USED": {"type": "boolean"},
        "OPT_MASS_PROP_DEFAULT": {"type": "boolean"},
        "STRAIN_VALUE_PRIORITY": {"type": "integer"},
        "GROUP_TYPE": {"type": "string"},
    },
}
SCHEMA = {"type": "object", "properties": {"Assign": {"type": "object", "additionalProperties": _ROW}}}


def _leaves(rows: dict[str, Any]) -> list[Any]:
    return leaves({"Assign": rows}, SCHEMA)


def _leaf(rows: dict[str, Any], name: str) -> Any:
    return next(leaf for leaf in _leaves(rows) if leaf.name == name and not leaf.is_key)


def test_a_boolean_is_grounded_by_a_synonym_or_the_word_its_key_shortens() -> None:
    row = {"1": {"OPT_CALC_WHEN_USED": True, "OPT_MASS_PROP_DEFAULT": True}}
    for query in ("Add entry 1 with damping computed on demand.", "Add entry 1, calculated when needed."):
        facts = QueryFacts(query)
        assert grounded(_leaf(row, "OPT_CALC_WHEN_USED"), facts)
        assert not grounded(_leaf(row, "OPT_MASS_PROP_DEFAULT"), facts)  # nothing names it


def test_a_short_key_word_does_not_match_every_word_it_begins() -> None:
    # "opt" is three letters: "output" must not name OPT_* (a naive prefix or letters-in-order rule does).
    assert not names_term(frozenset({"opt", "mass"}), "output")
    assert names_term(frozenset({"calc"}), "calculat") and names_term(frozenset({"calc"}), "comput")
    assert not names_term(frozenset({"calc"}), "cal")


def test_words_of_a_switch_or_of_a_set_argument_are_not_unanswered_items() -> None:
    rows = {"1": {"OPT_CALC_WHEN_USED": True, "GROUP_TYPE": "BOUNDARY", "STRAIN_VALUE_PRIORITY": 1}}
    for query in (
        "Add entry 1 with damping computed on demand, boundary group and strain value priority 1.",
        "Add entry 1 with the option to calculate when used, boundary group and strain value priority 1.",
    ):
        assert unanswered_items(QueryFacts(query), _leaves(rows)) == []
    # the switch off: "demand" is an item of the list that no argument answers
    off = {"1": {"GROUP_TYPE": "BOUNDARY", "STRAIN_VALUE_PRIORITY": 1}}
    query = "Add entry 1 for demand, boundary and priority 1."
    assert unanswered_items(QueryFacts(query), _leaves(off)) == ["demand"]


def _calls(*rows: dict[str, Any]) -> list[list[Any]]:
    return [_leaves(r) for r in rows]


def test_two_clauses_that_edit_one_row_are_one_request() -> None:
    row = {"2": {"NAME": "SOIL-K", "SPRING": [1000, 1000, 5000, 0, 0, 0]}}
    for query in (
        "일반 스프링 유형 2번 이름을 SOIL-K로 바꾸고 강성은 1000, 1000, 5000, 0, 0, 0으로 넣어줘.",
        "Rename spring type 2 to SOIL-K and set its stiffness to 1000, 1000, 5000, 0, 0, 0.",
    ):
        clauses = request_clauses(query)
        assert len(clauses) == 2  # the clause reading alone asks for two calls
        assert distinct_requests(clauses, _calls(row)) == 0


def test_a_clause_with_a_value_no_argument_uses_or_with_no_value_still_counts() -> None:
    row = {"2": {"NAME": "SOIL-K", "SPRING": [1000, 1000, 5000, 0, 0, 0]}}
    for query in (
        "일반 스프링 유형 2번 이름을 SOIL-K로 바꾸고 6번 강성은 1000, 1000, 5000, 0, 0, 0으로 넣어줘.",
        "일반 스프링 유형 2번 이름을 SOIL-K로 바꾸고 판 단부 해제 데이터는 전부 지워줘.",
        "Rename spring type 2 to SOIL-K and give spring type 6 a stiffness of 1000, 1000, 5000, 0, 0, 0.",
    ):
        assert distinct_requests(request_clauses(query), _calls(row)) == 2, query


def test_clauses_answered_by_two_rows_or_two_calls_stay_two_requests() -> None:
    query = "Rename spring type 2 to SOIL-K and change the name of spring type 3 to SOIL-M."
    one_call_two_rows = {"2": {"NAME": "SOIL-K"}, "3": {"NAME": "SOIL-M"}}
    assert distinct_requests(request_clauses(query), _calls(one_call_two_rows)) == 2
    two_calls = _calls({"2": {"NAME": "SOIL-K"}}, {"3": {"NAME": "SOIL-M"}})
    assert distinct_requests(request_clauses(query), two_calls) == 2
