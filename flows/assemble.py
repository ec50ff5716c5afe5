"""The ``assemble`` flow: verified shards + the sample store -> ``runs/<run>/dataset/`` and its artifacts.

    assemble_flow(config)   # -> {"dataset_dir": ".../dataset", "splits": {"train": 612, ...}, ...}

Assembly is one pass over the run's accepted samples (dedup across splits needs them all at once),
so it runs inline in the flow. It publishes the split sizes, the dataset link and, when the config
says so, the ``callforge.dataset.published`` event that starts the fine-tune deployment.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from prefect import flow

from flows import monitoring, tables
from flows.config import RunConfig
from flows.file_lock import store_lock
from flows.run_record import RunRecord, finish_assembly
from trainer.dataset import assembly
from trainer.dataset.store import SampleStore


@flow(
    name="assemble",
    flow_run_name=functools.partial(monitoring.stage_run_name, "assemble"),
    on_failure=[monitoring.log_failure_url],
)
def assemble_flow(config: RunConfig) -> dict[str, Any]:
    """Assemble the run's dataset (adding its accepted samples to the store) and publish it."""
    config = config.with_run_name()
    run_dir = config.run_dir
    record = RunRecord.open(run_dir, config.run_name or "")
    record.begin("assemble")
    store = SampleStore(config.store_path)
    # The store and the published versions have one writer at a time: a concurrent refresh of the same
    # data root waits here (flows.file_lock), then builds from the store both runs filled.
    with store_lock(config.store_path):
        result = assembly.assemble(run_dir, config.assemble, store=store)
    dataset_dir = Path(result.dataset_dir)
    splits = {name: int(n) for name, n in result.report.totals().items()}
    monitoring.publish_table(
        config.slug,
        "split-sizes",
        tables.split_rows(splits),
        description=f"{config.run_name}: samples per split (dataset version {result.version})",
    )
    finish_assembly(record, result)
    monitoring.publish_markdown(
        config.slug,
        "run-summary",
        record.report_path.read_text("utf-8"),
        description=f"{config.run_name}: run report",
    )
    monitoring.publish_dataset(
        config.slug,
        config.run_name or "",
        dataset_dir,
        {"splits": splits, "version": result.version},
        emit=config.publish,
    )
    return {
        "dataset_dir": str(dataset_dir.resolve()),
        "version": result.version,
        "splits": splits,
        "added_to_store": result.added,
        "report": str(record.report_path.resolve()),
    }
