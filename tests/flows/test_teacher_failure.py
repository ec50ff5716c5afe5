"""``callforge refresh`` with a teacher that cannot answer: a non-zero exit, nothing published."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
import yaml

from flows.cli import main


def dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


@pytest.mark.slow
def test_refresh_with_an_unreachable_teacher_exits_non_zero_and_publishes_nothing(
    prefect_server: None, mini_kwargs: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = dict(mini_kwargs["settings"])
    settings["generate"] = {
        **settings["generate"],
        "teacher": {"model": "loopback", "base_url": dead_url(), "cache_dir": str(tmp_path / "cache")},
    }
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump(settings), "utf-8")
    data = tmp_path / "data"
    code = main(
        [
            "refresh", "--spec", mini_kwargs["spec"], "--tier-rules", mini_kwargs["tier_rules"],
            "--config", str(config), "--data-root", str(data), "--run-name", "dead", "--no-progress",
        ]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1 and "looks unreachable" in err and "Traceback" not in err
    assert not (data / "runs" / "dead" / "dataset").exists() and not (data / "datasets").exists()
    # Nothing is remembered as tried: the next refresh, with the teacher back, plans the same items.
    assert not list((data / "store").rglob("attempts/*.txt"))
    # The refresh run's summary says where it stopped.
    [summary] = [a.data for a in asyncio.run(_summaries()) if "# callforge run `dead`" in a.data]
    assert summary.startswith("**failed in generate: ")


async def _summaries() -> list:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    async with get_client() as client:
        return await client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["mini-run-summary"]))
        )
