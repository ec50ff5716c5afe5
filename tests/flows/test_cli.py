"""``callforge refresh`` in-process: flags reach the run config, the summary says where everything is."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import yaml

from flows.cli import build_parser, main
from flows.commands.refresh import settings_from_args


def _args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["refresh", *argv])


@pytest.mark.parametrize(
    ("argv", "settings"),
    [
        ((), {}),
        (("--workers", "3"), {"task_runner": {"max_workers": 3}}),
        (("--dask-address", "tcp://h:8786"), {"task_runner": {"kind": "dask", "address": "tcp://h:8786"}}),
        (("--verifiers", "format, dedup"), {"verifiers": ["format", "dedup"]}),
        (("--no-sandbox",), {"sandbox": False}),
    ],
)
def test_flags_become_settings(argv: tuple[str, ...], settings: dict) -> None:
    assert settings_from_args(_args(*argv)) == settings


@pytest.mark.slow
def test_refresh_prints_where_everything_is(
    prefect_server: None, mini_kwargs: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({k: v for k, v in mini_kwargs["settings"].items()}), "utf-8")
    code = main(
        [
            "refresh",
            "--spec", mini_kwargs["spec"],
            "--tier-rules", mini_kwargs["tier_rules"],
            "--config", str(config),
            "--data-root", str(tmp_path / "data"),
            "--run-name", "cli-run",
            "--no-progress",
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    run = (tmp_path / "data" / "runs" / "cli-run").resolve()
    for label, path in (
        ("dataset:", run / "dataset"),
        ("report:", run / "report.md"),
        ("manifest:", run / "manifest.json"),
    ):
        assert f"{label} {path}" in " ".join(out.split()), out
        assert path.exists()
    assert "PREFECT_HOME=" in out


def test_bad_config_is_an_error_naming_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "run.yaml"
    config.write_text("generate: {plan: {shard_sise: 5}}\n", "utf-8")
    assert main(["refresh", "--config", str(config), "--no-progress"]) == 1
    assert "generate.plan.shard_sise" in capsys.readouterr().err
