"""Resume and retries: a refresh that died on one shard redoes only that shard.

The fault is injected by wrapping ``generators.pipeline.generate_shard`` (the stage function the
shard task calls); the wrapper counts calls per shard index, which is how "finished shards are not
rerun" is proven.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from flows.refresh import refresh
from generators import pipeline
from schemas.errors import RecordError


class InjectedFault(RuntimeError):
    pass


def counting_generate_shard(
    calls: Counter, fail: dict[int, int], error: type[Exception] = InjectedFault
) -> Callable[..., dict[str, Any]]:
    """``generate_shard`` that counts calls per shard and raises ``error`` while ``fail[shard]`` > 0."""
    real = pipeline.generate_shard

    def generate_shard(
        items: Any, catalog: Any, config: Any, out_dir: Path, shard_index: int, **kw: Any
    ) -> dict:
        calls[shard_index] += 1
        if fail.get(shard_index, 0) > 0:
            fail[shard_index] -= 1
            raise error(f"injected fault in shard {shard_index}")
        return real(items, catalog, config, out_dir, shard_index, **kw)

    return generate_shard


def _kwargs(mini_kwargs: dict, root: Path, **settings: Any) -> dict:
    # The faults are in generation: the format verifier alone keeps these refreshes free of the sandbox
    # process and the embedding model.
    light = {"verifiers": ["format"], "sandbox": False}
    return {
        **mini_kwargs,
        "data_root": str(root),
        "settings": {**mini_kwargs["settings"], **light, **settings},
    }


@pytest.mark.slow
def test_rerun_after_a_failed_shard_redoes_only_that_shard(
    prefect_server: None,
    mini_kwargs: dict,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Two refreshes of one data root (one with a failing shard, then the rerun that redoes it)."""
    calls: Counter = Counter()
    monkeypatch.setattr(pipeline, "generate_shard", counting_generate_shard(calls, {2: 1}))
    kwargs = _kwargs(mini_kwargs, tmp_path, shard_retries=0)
    with pytest.raises(InjectedFault):
        refresh(**kwargs)
    assert calls == Counter({0: 1, 1: 1, 2: 1})
    assert "RESUMING" not in caplog.text
    result = refresh(**kwargs)  # no run name: the unfinished run is picked up
    assert calls == Counter({0: 1, 1: 1, 2: 2})
    assert result["generate"]["samples"] == 18
    assert len(list((tmp_path / "runs").iterdir())) == 1
    assert f"run {result['run_name']}: RESUMING" in caplog.text and "finished stages ingest" in caplog.text


@pytest.mark.slow
def test_a_rerun_with_other_parameters_does_not_adopt_the_failed_run(
    prefect_server: None, mini_kwargs: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "generate_shard", counting_generate_shard(Counter(), {2: 1}))
    with pytest.raises(InjectedFault):
        refresh(**_kwargs(mini_kwargs, tmp_path, shard_retries=0))
    other = refresh(**{**_kwargs(mini_kwargs, tmp_path, shard_retries=0), "limit": 12})
    assert len(list((tmp_path / "runs").iterdir())) == 2
    assert other["generate"]["items"] == 12


@pytest.mark.slow
def test_a_transient_shard_failure_is_retried_in_the_same_run(
    prefect_server: None, mini_kwargs: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: Counter = Counter()
    monkeypatch.setattr(pipeline, "generate_shard", counting_generate_shard(calls, {1: 1}))
    result = refresh(**_kwargs(mini_kwargs, tmp_path, shard_retries=1))
    assert calls == Counter({0: 1, 1: 2, 2: 1})
    assert result["generate"]["samples"] == 18


@pytest.mark.slow
def test_a_deleted_shard_file_is_regenerated_not_taken_from_cache(
    prefect_server: None, mini_kwargs: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: Counter = Counter()
    monkeypatch.setattr(pipeline, "generate_shard", counting_generate_shard(calls, {2: 1}))
    kwargs = _kwargs(mini_kwargs, tmp_path, shard_retries=0)
    with pytest.raises(InjectedFault):
        refresh(**kwargs)
    [run] = (tmp_path / "runs").iterdir()
    (run / "candidates" / "shard-00000.parquet").unlink()
    refresh(**kwargs)
    assert calls == Counter({0: 2, 1: 1, 2: 2})


def test_bad_input_fails_at_once_without_retries(
    prefect_server: None, mini_kwargs: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: Counter = Counter()
    monkeypatch.setattr(pipeline, "generate_shard", counting_generate_shard(calls, {0: 5}, RecordError))
    with pytest.raises(RecordError):
        refresh(**_kwargs(mini_kwargs, tmp_path, shard_retries=2))
    assert calls[0] == 1
