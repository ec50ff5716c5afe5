"""The readings behind the semantic checks: units, ranges, exclusions, requests, questions, lexicons."""

from __future__ import annotations

import pytest

from schemas.errors import ConfigError
from verifiers.grounding import QueryFacts
from verifiers.implication import stated_ranges
from verifiers.intent import actions, explanation_question, not_wanted_spans, request_count, wording
from verifiers.lexicon import fold
from verifiers.semantic import SemanticVerifier
from verifiers.spec_lexicon import Lexicon, combine
from verifiers.units import convert, equivalents, stated_units


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("put a node 1500 mm above", [(1500.0, "mm")]),
        ("add a 5,000 n downward load", [(5000.0, "n")]),
        ("x = 250 cm, z = 1.2 m.", [(250.0, "cm"), (1.2, "m")]),
        ("3 members and 5 minutes", []),  # a word starting with a unit letter is not a unit
        ("2500mm에", [(2500.0, "mm")]),
    ],
)
def test_numbers_with_units(text, expected):
    assert [(s.value, s.unit) for s in stated_units(text)] == expected


def test_conversions_stay_inside_one_dimension():
    assert convert(1500, "mm", "m") == 1.5 and convert(5000, "N", "kN") == 5.0
    assert convert(3, "m", "kN") is None
    assert 1.5 in equivalents(1500, " mm above") and equivalents(1500, " nodes") == []


@pytest.mark.parametrize(
    ("query", "ranges"),
    [
        ("nodes 1 through 4.", [(1, 4)]),
        ("절점 1번부터 4번까지 삭제", [(1, 4)]),
        ("the first three nodes", [(1, 3)]),
        ("connect nodes 1-2, 2-3 and 3-4", []),  # pairs, not ranges
        ("move node 5 to 3", []),  # a descending pair is not a range
    ],
)
def test_stated_ranges(query, ranges):
    assert stated_ranges(QueryFacts(query)) == ranges


@pytest.mark.parametrize(
    ("query", "ruled_out", "kept"),
    [
        ("Load case DL already exists, so just add LL as a live load.", "dl", "ll"),
        ("DL은 이미 있으니까 LL만 활하중으로 추가해 줘.", "dl", "ll"),
        ("Move node 4 up, not to z = 3 but to z = 4.", "3", "4"),
        ("절점 4는 Z 3이 아니라 4 m로 옮겨 줘.", "3이", "4 m"),
        ("Apply 12 kN at node 6, not node 5, in case LL.", "5", "6"),
    ],
)
def test_not_wanted_spans(query, ruled_out, kept):
    folded = fold(query)
    spans = not_wanted_spans(folded)

    def inside(word: str) -> bool:
        at = folded.index(word)
        return any(a <= at < b for a, b in spans)

    assert inside(ruled_out) and not inside(kept)


@pytest.mark.parametrize(
    ("query", "count"),
    [
        ("Add node 1 at the origin, then run the analysis.", 2),
        ("Save the project and close it.", 2),
        ("Delete nodes 7 and 8.", 0),  # "and 8" joins items, not requests
        ("Create a dead load case DL and a live load case LL.", 0),
        ("DL 케이스 만들고 그리고 해석 실행해 줘.", 2),
        ("D:/a.mgb 열고 해석 돌린 다음 저장해 줘.", 3),
        ("1번 절점은 이미 고정돼 있어. 5번 절점만 고정해 줘.", 0),  # a statement is not a request
        ('Update X with CSCS 54 (SEC 84; TYPE "T1"; [2] ID 3)', 0),  # bracketed rows are not clauses
    ],
)
def test_request_count(query, count):
    assert request_count(query) == count


@pytest.mark.parametrize(
    ("query", "explanation"),
    [
        ("What does the CONSTRAINT code 1111000 mean?", True),
        ("How do I add a node at the origin?", True),
        ("절점과 요소의 차이가 뭐야?", True),
        ("What is self weight in GEN NX?", True),
        ("Which version of GEN NX is this?", False),
        ("How many nodes and elements does the model have?", False),
        ("What are all the materials defined so far?", False),
        ("요소 목록 좀 보여 줄래?", False),
    ],
)
def test_explanation_questions(query, explanation):
    assert explanation_question(query) is explanation


def test_actions_prefer_the_specific_verb():
    assert actions("Save as D:/x.mgb, thanks") == {"saveas"}
    assert actions("Start a new project.") == {"new"}
    assert "update" in actions("3번 절점을 옮겨 줘") and "open" in actions("파일 열어 줘")
    assert wording('Create rows (SEC 84, TYPE "T1") for GROUP_NAME') == "create rows for"


def test_a_lexicon_applies_by_path_and_refuses_bad_entries():
    data = {
        "units": [{"paths": ["^/db/NODE$"], "fields": {"X": "m"}}],
        "values": [{"field": "TYPE", "value": "CONC", "en": ["concrete"], "paths": ["^/db/MATL$"]}],
    }
    lexicon = Lexicon.parse(data, "test.yaml")
    assert combine([lexicon], "/db/NODE").units == {"X": "m"}
    assert combine([lexicon], "/db/ELEM").units == {} and combine([lexicon], "/db/MATL").codes("TYPE")
    with pytest.raises(ConfigError, match="unknown top-level keys"):
        Lexicon.parse({"unit": []}, "bad.yaml")
    with pytest.raises(ConfigError, match="bad 'paths' pattern"):
        Lexicon.parse({"values": [{"field": "A", "value": 1, "paths": ["("]}]}, "bad.yaml")
    with pytest.raises(ConfigError, match="needs 'value' or 'values'"):
        Lexicon.parse({"values": [{"field": "A"}]}, "bad.yaml")


def test_a_missing_or_malformed_lexicon_option_fails_at_configuration(tmp_path):
    # pydantic reports the ConfigError as a ValidationError naming the option (both are ValueErrors).
    with pytest.raises(ValueError, match=r"lexicons[\s\S]*does not exist"):
        SemanticVerifier.Options(lexicons=[tmp_path / "none.yaml"])
    bad = tmp_path / "bad.lexicon.yaml"
    bad.write_text("units: [{fields: {X: 3}}]\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"units\[0\]"):
        SemanticVerifier.Options(lexicons=[bad])
