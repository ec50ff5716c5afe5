"""The ``assemble`` flow: verified shards + the sample store -> ``runs/<run>/dataset/`` and its artifacts.

    assemble_flow(config)   # -> {"dataset_dir": ".../dataset", "splits": {"train": 612, ...}, ...}

Assembly is one pass over the run's accepted samples (dedup across splits needs them all at once),
so it runs inline in the flow. It publishes the split sizes, the changes since the previous version,
the dataset link and, when the run publishes (``RunConfig.publishes``: a full run, or
``publish=true``) *and* the content is new, a version under ``<data_root>/datasets/<dataset>/`` and
the ``callforge.dataset.published`` event that starts the fine-tune deployment. An unchanged refresh
publishes nothing and says so. When the run makes multi-turn trajectories, the multi-turn stage's
folder (``runs/<run>/multi_turn/dataset/``, written before this flow) becomes the dataset's
``multi_turn/``, hashed and published with the rest.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from prefect import flow

from flows import monitoring, tables
from flows.config import RunConfig
from flows.file_lock import store_lock
from flows.ingest import CATALOG_DIR
from flows.report import PUBLICATION_TEXT
from flows.run_record import RunRecord, finish_assembly
from flows.stage_support import load_catalog
from trainer.dataset import assembly
from trainer.dataset.multi_turn_config import staged_multi_turn
from trainer.dataset.store import SampleStore
from trainer.row_length_cache import FILE_NAME as ROW_LENGTHS_FILE
from trainer.row_length_cache import RowLengthCache
from trainer.row_lengths import length_meter


@flow(
    name="assemble",
    flow_run_name=functools.partial(monitoring.stage_run_name, "assemble"),
    on_failure=[monitoring.log_failure_url],
    # Not the refresh's log_prints: an export built with datasets.from_dict/from_list (apigen_text) makes
    # dill disassemble a function with print(), which Prefect would log line by line.
    log_prints=False,
)
def assemble_flow(config: RunConfig) -> dict[str, Any]:
    """Assemble the run's dataset (adding its accepted samples to the store) and publish it."""
    config = config.with_run_name()
    run_dir = config.run_dir
    record = RunRecord.open(run_dir, config.run_name or "")
    record.begin("assemble")
    store = SampleStore(config.store_path)
    assemble_config = config.assemble_with_lengths()
    # counts kept beside the store: a nightly refresh measures only the rows it has not measured before
    cache = RowLengthCache(config.store_path / ROW_LENGTHS_FILE)
    meter = length_meter(assemble_config, load_catalog(run_dir / CATALOG_DIR), cache=cache)
    # The store and the published versions have one writer at a time: a concurrent refresh of the same
    # data root waits here (flows.file_lock), then builds from the store both runs filled.
    with store_lock(config.store_path):
        result = assembly.assemble(
            run_dir,
            assemble_config,
            store=store,
            meter=meter,
            publish=config.publishes,
            # the multi-turn stage ran first (flows.refresh): its folder is part of the version
            attachments=staged_multi_turn(run_dir) if config.makes_multi_turn else None,
        )
    dataset_dir = Path(result.dataset_dir)
    splits = {name: int(n) for name, n in result.report.totals().items()}
    monitoring.publish_table(
        config.slug,
        "split-sizes",
        tables.split_rows(splits),
        description=f"{config.run_name}: samples per split (dataset version {result.version})",
    )
    if result.changes is not None:
        against = result.changes.previous or "nothing (first version)"
        monitoring.publish_table(
            config.slug,
            "dataset-changes",
            result.changes.rows(),
            description=f"{config.run_name}: dataset {result.dataset_name} against {against}",
        )
    finish_assembly(record, result)
    monitoring.publish_dataset(
        config.slug,
        config.run_name or "",
        dataset_dir,
        {
            "splits": splits,
            "version": result.version,
            "version_dir": str(result.version_dir) if result.version_dir else None,
        },
        dataset_name=config.dataset_name,
        emit=result.published,
    )
    monitoring.log_info(f"assemble: {publication_line(result)}")
    return {
        "dataset_dir": str(dataset_dir.resolve()),
        "dataset_name": config.dataset_name,
        "version": result.version,
        "version_dir": str(result.version_dir) if result.version_dir else None,
        "publication": result.publication,
        "published": result.published,
        "splits": splits,
        "added_to_store": result.added,
        "report": str(record.report_path.resolve()),
    }


def publication_line(result: assembly.AssembleResult) -> str:
    """One line: the split sizes, the version and what publishing did (``report.PUBLICATION_TEXT``)."""
    sizes = ", ".join(f"{name} {n}" for name, n in result.report.totals().items())
    what = PUBLICATION_TEXT.get(result.publication, result.publication)
    return f"{sizes}; dataset {result.dataset_name or '-'} version {result.version}: {what}"
