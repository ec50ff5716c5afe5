"""A teacher paraphrases the user turns of generated GEN NX trajectories, through the real ``openai`` client.

The teacher is the loopback server (``teacher_server.TeacherServer``) answering paraphrase prompts
(``paraphrase_teacher``); the verifier is the real trajectory verifier replaying in a real sandbox.
Good rewordings are kept and verify; every hostile reply ends as the template trajectory with its
reason counted, and nothing is lost.
"""

from __future__ import annotations

import asyncio
import functools
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from flows.multi_turn_paraphrase import paraphrase_all
from generators.config import TeacherConfig
from generators.teacher import OpenAITeacher
from generators.trajectories import TrajectoryGenerator
from schemas.trajectories import Trajectory
from tests.generators.paraphrase_teacher import paraphrase_answers, reword
from tests.generators.teacher_server import TeacherServer, always, first_attempts
from tests.verifiers.gennx_fixtures import gennx_catalog
from tests.verifiers.trajectory_fixtures import ROOT
from verifiers.grounding import QueryFacts
from verifiers.sandbox import SandboxServer
from verifiers.trajectory.paraphrase import (
    Keep,
    ParaphraseReport,
    settle,
    turn_problem,
    written_numbers,
)
from verifiers.trajectory.replay import connect
from verifiers.trajectory.verifier import TrajectoryVerdict, TrajectoryVerifier

SPEC = "specs/gennx/openapi.yaml"


@functools.lru_cache(maxsize=1)
def templates() -> tuple[Trajectory, ...]:
    """Generated trajectories: English and Korean, each with numbers in a user turn (one decimal at least)."""
    from flows.multi_turn import reference_graph

    generator = TrajectoryGenerator(gennx_catalog(), reference_graph(str(ROOT / SPEC)), spec=SPEC)
    picked: dict[str, list[Trajectory]] = {"en": [], "ko": []}
    for item in generator.generate(60, seed=3):
        if isinstance(item, str) or len(picked[item.language]) >= 3:
            continue
        if any(written_numbers(QueryFacts(text)) for text in item.user_texts()):
            picked[item.language].append(item)
    chosen = (*picked["en"], *picked["ko"])
    assert len(chosen) == 6
    assert any("." in text for t in chosen for text in t.user_texts())
    return chosen


@pytest.fixture(scope="module")
def verify() -> Iterator[Any]:
    catalog = gennx_catalog()
    with SandboxServer([str(ROOT / SPEC)], mode="thread") as server:
        replay = connect(server.base_url, catalog)

        def run(items: list[Trajectory]) -> list[TrajectoryVerdict]:
            return TrajectoryVerifier(replay, catalog, workers=1).verify_all(items)

        yield run
        replay.close()


def _teacher(base_url: str, **overrides: Any) -> OpenAITeacher:
    settings = {"max_retries": 2, "backoff_base_s": 0.01, "retry_after_max_s": 1.0, "timeout_s": 10.0}
    return OpenAITeacher(TeacherConfig(model="loopback", base_url=base_url, **(settings | overrides)))


def _run(base_url: str, verify: Any, **overrides: Any) -> tuple[list[Trajectory], ParaphraseReport]:
    async def ask() -> list[Any]:
        async with _teacher(base_url, **overrides) as teacher:
            return await paraphrase_all(templates(), teacher, gennx_catalog())

    return settle(asyncio.run(ask()), verify)


def _paraphrased(mode: str, verify: Any, **server: Any) -> tuple[list[Trajectory], ParaphraseReport]:
    with TeacherServer(answers=paraphrase_answers(mode), **server) as teacher:
        return _run(teacher.base_url, verify)


def test_good_paraphrases_are_kept_and_still_verify(verify: Any) -> None:
    kept, report = _paraphrased("good", verify)
    assert report.paraphrased == len(templates()) == len(kept), report.reasons
    for template, new in zip(templates(), kept, strict=True):
        assert new.id == template.id and new.turns == template.turns  # only the words changed
        assert new.user_texts() != template.user_texts()
        assert new.to_record().keys() == template.to_record().keys()  # the record layout is untouched
    assert all(v.valid for v in verify(kept))
    korean = next(t for t in kept if t.language == "ko")
    assert any(" 번" in text for text in korean.user_texts())  # "9번" written "9 번" is still 9


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("changed", "paraphrase_value_changed"),
        ("dropped", "paraphrase_value_dropped"),
        ("invented", "paraphrase_value_invented"),
        ("renamed", "paraphrase_name_dropped"),
        ("count", "paraphrase_turn_count"),
        ("broken", "paraphrase_unparsable"),
        ("echo", "paraphrase_unchanged"),
        ("long", "paraphrase_bad_turn"),
    ],
)
def test_a_defective_paraphrase_keeps_the_template_with_its_reason(
    mode: str, reason: str, verify: Any
) -> None:
    kept, report = _paraphrased(mode, verify)
    assert kept == list(templates())  # nothing lost, nothing changed
    assert report.paraphrased == 0 and report.reasons == {reason: len(templates())}


@pytest.mark.parametrize("fault", ["huge", "deep", "malformed_json"])
def test_an_oversized_or_unreadable_reply_is_refused_within_bounds(fault: str, verify: Any) -> None:
    """5 MB of content, 1,000 levels of nesting, cut-off JSON: refused by the bounded reader, no traceback."""
    with TeacherServer(answers=paraphrase_answers("good"), faults=always(fault)) as teacher:
        kept, report = _run(teacher.base_url, verify)
    assert kept == list(templates())
    assert report.reasons == {"paraphrase_unparsable": len(templates())}


def test_a_429_then_success_is_paraphrased(verify: Any) -> None:
    faults = first_attempts("429", retry_after="0")
    with TeacherServer(answers=paraphrase_answers("good"), faults=faults) as teacher:
        _kept, report = _run(teacher.base_url, verify)
        assert teacher.log.by_fault["429"] == len(templates())
    assert report.paraphrased == len(templates()), report.reasons


def test_a_teacher_that_keeps_failing_is_no_verdict_on_the_trajectory(verify: Any) -> None:
    with TeacherServer(answers=paraphrase_answers("good"), faults=always("500")) as teacher:
        kept, report = _run(teacher.base_url, verify, max_retries=0)
    assert kept == list(templates())
    assert report.reasons == {"teacher_http_500": len(templates())}


def test_a_dead_endpoint_keeps_every_template(verify: Any) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    kept, report = _run(f"http://127.0.0.1:{port}/v1", verify, max_retries=0, breaker_failures=2)
    assert kept == list(templates())
    assert report.paraphrased == 0 and sum(report.reasons.values()) == len(templates())
    assert set(report.reasons) <= {"teacher_error_connection", "teacher_circuit_open"}


def test_a_rewrite_the_verifier_rejects_falls_back_with_the_verifiers_reason() -> None:
    """The checks here passed, the replay did not: the template stays and the verdict's reason is counted."""
    template = templates()[0]
    from verifiers.trajectory.paraphrase import Candidate

    rewritten = template.model_copy(update={"id": template.id})
    refused = [TrajectoryVerdict(template.id, False, "ungrounded_value", 1, "x")]
    kept, report = settle([Candidate(template, rewritten)], lambda items: refused)
    assert kept == [template]
    assert report.reasons == {"paraphrase_rejected_by_verifier:ungrounded_value": 1}


def test_two_rewrites_that_come_out_the_same_record_keep_one_and_a_template() -> None:
    """Two variants of one blueprint reworded alike would be one record twice: the final replay would
    reject the second as a duplicate and lose it, so the second falls back to its template."""
    from verifiers.trajectory.paraphrase import Candidate, rebuild

    first, second = templates()[0], templates()[1]
    assert first.initial_state == second.initial_state and first.turns == second.turns  # two variants
    words = [f"turn {i} as a person says it" for i in range(len(first.turns))]
    same_a, same_b = rebuild(first, words), rebuild(second, words)
    candidates = [Candidate(first, same_a), Candidate(second, same_b)]
    valid = lambda items: [TrajectoryVerdict(t.id, True) for t in items]  # noqa: E731
    kept, report = settle(candidates, valid)
    assert kept == [same_a, second]
    assert report.paraphrased == 1 and report.reasons == {"paraphrase_duplicate": 1}
    # a rewrite equal to another trajectory's template also falls back: the template was there first
    kept, report = settle([Candidate(first, rebuild(first, second.user_texts())), Candidate(second)], valid)
    assert kept == [first, second] and report.reasons["paraphrase_duplicate"] == 1


def test_a_long_context_preamble_may_be_reworded_but_not_condensed() -> None:
    from flows.multi_turn import reference_graph
    from verifiers.trajectory.paraphrase import check_rewrite

    generator = TrajectoryGenerator(gennx_catalog(), reference_graph(str(ROOT / SPEC)), spec=SPEC)
    long = next(
        t for t in generator.generate(40, seed=3) if not isinstance(t, str) and t.category == "long_context"
    )
    turns = [reword(text, long.language) for text in long.user_texts()]
    assert check_rewrite(long, turns, gennx_catalog()).rewritten is not None
    _, _, request = long.user_texts()[0].partition("message. ")
    assert request, "the English preamble ends with 'message. '"
    condensed = [reword(request, long.language), *turns[1:]]
    refused = check_rewrite(long, condensed, gennx_catalog())
    assert refused.rewritten is None and refused.reason == "paraphrase_context_shortened"


def _keep(text: str) -> Keep:
    return Keep(tuple(written_numbers(QueryFacts(text))), (), ())


@pytest.mark.parametrize(
    ("template", "rewrite", "reason"),
    [
        ("Set X 10 on node 2.", "Node 2 gets X = 100.", "paraphrase_value_changed"),  # 10 inside 100
        ("Set X 3.5 on node 2.", "Node 2: X 35.", "paraphrase_value_changed"),
        ("Set the load to 1000 on node 2.", "Node 2 should carry a 1,000 load.", None),
        ("Set the load to 1,000 on node 2.", "Node 2 should carry 1000.", None),
        ("9번(X 35.4) 부탁해", "9 번 행에 X 35.4 넣어줘", None),  # Korean number/unit spacing
        ("9번(X 35.4) 부탁해", "9번 행 X값 35.4m로", None),
        ("FZ -20 on node 2", "node 2, FZ minus 20", None),
        ("X 3.5 on node 2", "node 2, X 3.5 and Y 2.5", "paraphrase_value_invented"),
        ("X 3.5, Y 2 on node 7", "node 7: X 3.5", "paraphrase_value_dropped"),
        ("PT1X 65 on CUTL 1", "CUTL 1 with PT1X at 65", None),
    ],
)
def test_the_number_check_reads_values_not_substrings(
    template: str, rewrite: str, reason: str | None
) -> None:
    problem = turn_problem(template, _keep(template), rewrite)
    assert (problem[0] if problem else None) == reason
