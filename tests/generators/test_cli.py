"""``callforge generate`` end to end: offline, with the loopback teacher, resumed, and with bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.cli import main
from schemas import shards
from schemas.catalog import Catalog
from tests.generators.teacher_server import TeacherServer


@pytest.fixture
def catalog_dir(catalog: Catalog, tmp_path: Path) -> Path:
    return catalog.save(tmp_path / "catalog")


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["generate", *args, "--no-progress"])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_offline_generation_writes_the_plan_and_shards(
    catalog_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    code, printed = _run(capsys, "--catalog", str(catalog_dir), "--out", str(out), "--seed", "3", "--limit", "30",
                         "--shard-size", "12")  # fmt: skip
    assert code == 0
    assert len((out / "plan" / "items.jsonl").read_text().splitlines()) == 30
    samples = [
        s for p in sorted((out / "candidates").glob("shard-*.parquet")) for s in shards.read_samples(p)
    ]
    assert len(samples) == 30 and len(list((out / "candidates").glob("shard-*.parquet"))) == 3
    assert "samples 30, failures 0" in printed and "by style:" in printed and "by language:" in printed


def test_a_rerun_generates_nothing_new(
    catalog_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ("--catalog", str(catalog_dir), "--out", str(tmp_path / "run"), "--limit", "10")
    _run(capsys, *args)
    code, printed = _run(capsys, *args)
    assert code == 0 and "(10 already generated), 0 shard(s)" in printed
    assert len(list((tmp_path / "run" / "candidates").glob("shard-*.parquet"))) == 1


def test_teacher_generation_uses_the_cache_on_a_rerun(
    catalog_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    server: TeacherServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LOOPBACK_KEY", "sk-cli")
    args = ["--catalog", str(catalog_dir), "--teacher-model", "loopback", "--teacher-base-url", server.base_url,
            "--api-key-env", "LOOPBACK_KEY", "--limit", "8", "--cache-dir", str(tmp_path / "cache")]  # fmt: skip
    code, printed = _run(capsys, *args, "--out", str(tmp_path / "a"))
    assert code == 0 and server.log.chat_requests == 8 and '"requests": 8' in printed
    code, printed = _run(capsys, *args, "--out", str(tmp_path / "b"))
    assert code == 0 and server.log.chat_requests == 8 and '"cache_hits": 8' in printed
    assert set(server.log.authorization) == {"Bearer sk-cli"}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("plan:\n  styles: {chatty: 1}\n", "plan.styles"),
        ("teacher:\n  concurency: 3\n", "teacher.concurency"),
        ("- a list\n", "expected a mapping"),
    ],
)
def test_a_bad_config_is_an_error_naming_the_key(
    catalog_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], config: str, message: str
) -> None:
    path = tmp_path / "gen.yaml"
    path.write_text(config)
    code, printed = _run(
        capsys, "--catalog", str(catalog_dir), "--out", str(tmp_path / "run"), "--config", str(path)
    )
    assert code == 1 and message in printed


def test_a_missing_catalog_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, printed = _run(capsys, "--catalog", str(tmp_path / "nope"), "--out", str(tmp_path / "run"))
    assert code == 1 and "no tool catalog" in printed


@pytest.mark.parametrize("verbose", [False, True])
def test_per_request_http_logging_shows_only_with_verbose(
    catalog_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    server: TeacherServer,
    verbose: bool,
) -> None:
    import logging

    caplog.set_level(logging.INFO)  # what a user's INFO-level run lets through, before the CLI quiets
    args = ["--catalog", str(catalog_dir), "--teacher-model", "loopback", "--teacher-base-url", server.base_url,
            "--limit", "4", "--out", str(tmp_path / "run"), "--no-progress"]  # fmt: skip
    code = main([*(["-v"] if verbose else []), "generate", *args])
    capsys.readouterr()
    assert code == 0 and server.log.chat_requests == 4
    per_request = [
        r
        for r in caplog.records
        if r.name.split(".")[0] in ("httpx", "httpx2", "httpcore", "openai", "aiohttp")
    ]
    if verbose:
        assert any("/chat/completions" in r.getMessage() for r in per_request)
    else:
        assert [r for r in per_request if r.levelno < logging.WARNING] == []
    for name in ("httpx", "httpx2", "httpcore", "openai", "aiohttp"):  # the next test starts clean
        logging.getLogger(name).setLevel(logging.NOTSET)
