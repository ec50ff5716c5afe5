"""The ``refresh`` flow: ingest -> generate -> verify -> multi-turn -> assemble (-> train -> evaluate), as subflows.

The multi-turn stage (``flows.multi_turn``) runs for the bundled GEN NX spec unless ``multi_turn.enabled``
says otherwise; assemble puts its trajectories into the dataset as ``multi_turn/``.

    refresh()                                             # the bundled GEN NX spec, embedded defaults
    refresh(spec="specs/petstore.yaml", limit=50)            # no tier rules for another spec
    refresh(config_file="nightly.yaml", settings={"task_runner": {"kind": "dask", "address": "tcp://…"}})

Parameters are flat and JSON-friendly (deployments, the UI form, ``prefect deployment run --param``);
``settings`` carries any other ``RunConfig`` key. The store decides what is generated: a refresh
with the spec unchanged plans nothing new and reassembles; an edited endpoint regenerates only its
samples. A run killed halfway is resumed by the next refresh of the same spec and parameters once
its owner is gone (``flows.run_ownership``): finished shards come from the cache.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, tags
from prefect.runtime import flow_run as runtime_flow_run

from flows import monitoring, run_ownership, run_summary
from flows.assemble import assemble_flow
from flows.attempts import AttemptLedger, final_item_ids
from flows.config import RunConfig
from flows.generate import PLAN_FILE, attempt_context_of, generate_flow, teacher_name
from flows.ingest import CATALOG_DIR, ingest_flow
from flows.runners import build_task_runner, check_workers_see, describe_task_runner
from flows.stage_support import load_catalog
from flows.top_up import plan_top_up, top_up_flow
from flows.top_up_ledger import TopUpLedger, run_top_ups
from flows.verify import verify_flow
from trainer.dataset.store import SampleStore


def build_config(
    *,
    spec: str | None = None,
    tier_rules: str | None = None,
    run_name: str | None = None,
    data_root: str | None = None,
    config_file: str | None = None,
    limit: int | None = None,
    train: bool | None = None,
    base_model: str | None = None,
    publish: bool | None = None,
    settings: dict[str, Any] | None = None,
) -> RunConfig:
    """The run config the ``refresh`` parameters describe (``settings`` under the flat parameters).

    ``tier_rules=""`` means no tier rules; None means the config's (the bundled rules go with the
    bundled spec only).
    """
    flat: dict[str, Any] = {
        "specs": [spec] if spec else None,
        "tier_rules": tier_rules,
        "run_name": run_name,
        "data_root": data_root,
        "limit": limit,
        "train": train,
        "base_model": base_model,
        "publish": publish,
    }
    return RunConfig.resolve(config_file=config_file, overrides={**(settings or {}), **flat})


def refresh_run_name() -> str:
    params = runtime_flow_run.parameters or {}
    return monitoring.dated_name("refresh", build_config(**params).slug)


def release_run_folder(flow: Any, flow_run: Any, state: Any) -> None:
    """Flow hook: give up this flow run's hold on its run folder (``flows.run_ownership``)."""
    run_ownership.release_flow_run(str(flow_run.id))


@flow(
    name="refresh",
    flow_run_name=refresh_run_name,
    on_completion=[release_run_folder],
    on_failure=[monitoring.log_failure_url, run_summary.on_refresh_failure, release_run_folder],
    on_cancellation=[release_run_folder],
    on_crashed=[release_run_folder],
    log_prints=True,
)
def refresh(
    spec: str | None = None,
    tier_rules: str | None = None,
    run_name: str | None = None,
    data_root: str | None = None,
    config_file: str | None = None,
    limit: int | None = None,
    train: bool = False,
    base_model: str | None = None,
    publish: bool | None = None,
    settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run every stage for one spec; return the run directory, the dataset path and each stage's summary.

    ``publish`` (default: a full run publishes, a ``limit``-ed one does not) writes a new dataset version
    under ``<data_root>/datasets/<spec>/`` and emits the event the fine-tune trigger follows.
    """
    # The run folder: a new one, or an abandoned one with the same parameters (never one a live run
    # holds); released by the hooks above.
    config = build_config(
        spec=spec,
        tier_rules=tier_rules,
        run_name=run_name,
        data_root=data_root,
        config_file=config_file,
        limit=limit,
        train=train or None,
        base_model=base_model,
        publish=publish,
        settings=settings,
    )
    check_workers_see(Path(config.data_root), config.task_runner)  # before anything is written
    config = run_ownership.claim(config, flow_run_id=runtime_flow_run.id)
    if held := run_ownership.current(config.run_dir):  # new folder or resume, and what it reuses
        print(held.describe())
        monitoring.publish_markdown(
            config.slug, "run-folder", held.describe(), description=f"{config.run_name}: run folder and owner"
        )
    summary = run_summary.RunSummary.start(config)
    print(
        f"run {config.run_name}: {', '.join(config.specs)} -> {config.run_dir} "
        f"(shards on {describe_task_runner(config.task_runner)})"
    )
    out: dict[str, Any] = {"run_name": config.run_name, "run_dir": str(config.run_dir.resolve())}
    with tags(f"spec:{config.slug}", f"teacher:{teacher_name(config.generate)}"):
        with tags("stage:ingest"):
            out["ingest"] = ingest_flow(config)
        summary.update()
        # What the store already holds for this catalog is not generated again.
        satisfied = SampleStore(config.store_path).satisfied(load_catalog(config.run_dir / CATALOG_DIR))
        with tags("stage:generate"):
            # Flow.with_options types task_runner invariantly in its future type (Prefect's stubs); any
            # TaskRunner is accepted at run time.
            generate = generate_flow.with_options(
                task_runner=build_task_runner(config.task_runner)  # type: ignore[arg-type]
            )
            out["generate"] = generate(config, satisfied=satisfied)
        summary.update()
        with tags("stage:verify"):
            verify = verify_flow.with_options(
                task_runner=build_task_runner(config.task_runner)  # type: ignore[arg-type]  # as above
            )
            out["verify"] = verify(config, shard_paths=out["generate"]["shard_paths"])
        # Tools still below quota get more items, bounded per tool (flows.top_up); a quick run (--limit)
        # never meant to fill quotas.
        rounds = config.generate.plan.top_up_rounds if config.limit is None else 0
        out["top_up"] = []
        for round_ in range(1, rounds + 1):
            if not plan_top_up(config, satisfied)[0]:
                break  # every tool reached its quota (or its top-up bound): no flow run to show
            with tags("stage:top-up"):
                top_up = top_up_flow.with_options(
                    task_runner=build_task_runner(config.task_runner)  # type: ignore[arg-type]  # as above
                )
                step = top_up(config, satisfied=satisfied, round_=round_)
            out["top_up"].append({k: v for k, v in step.items() if k != "shard_paths"})
            if not step["items"]:
                break
            with tags("stage:verify"):
                # Every shard, so the run record's verify counts cover the whole run: the shards
                # verified before are cache hits (same input digest), only the new ones run.
                out["verify"] = verify(config)
        summary.update()
        if config.makes_multi_turn:
            from flows.multi_turn import multi_turn_flow

            # before assemble, which copies the stage's folder into the dataset it hashes and publishes
            with tags("stage:multi-turn"):
                out["multi_turn"] = multi_turn_flow(config)
            summary.update()
        with tags("stage:assemble"):
            out["assemble"] = assemble_flow(config)
        # Remember what this run tried, so an unchanged spec plans nothing next time (flows.attempts).
        # Only now: a run that stops before its dataset is written is resumed with the same plan.
        catalog = load_catalog(config.run_dir / CATALOG_DIR)
        AttemptLedger(config.store_path, config.slug).record_plan(
            config.run_dir / PLAN_FILE,
            catalog,
            attempt_context_of(config),
            final=final_item_ids(config.run_dir),  # no answer, no verdict: the next refresh tries again
        )
        TopUpLedger(config.store_path, config.slug).record(
            run_top_ups(config.run_dir, catalog, config.generate.plan), catalog
        )
        out["dataset_dir"] = out["assemble"]["dataset_dir"]
        out["report"] = out["assemble"]["report"]
        if config.train:
            from flows.evaluate import evaluate_flow
            from flows.train import train_flow, trained_models

            with tags("stage:train"):
                out["train"] = train_flow(
                    out["dataset_dir"],
                    base_model=config.base_model,
                    settings=config.train_settings,
                    announce=False,  # evaluated just below, not by the evaluation trigger
                )
            models = trained_models(out["train"])
            with tags("stage:evaluate"):
                out["evaluate"] = evaluate_flow(
                    out["dataset_dir"],
                    models=models,
                    settings=config.evaluate_settings.model_dump(mode="json"),
                )
    summary.finish()
    return out
