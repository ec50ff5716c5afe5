"""``callforge assemble``: split a run's verified samples and export the dataset.

callforge assemble --run data/runs/nightly --seed 7 --unseen-fraction 0.1 --store data/store
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "assemble",
        help="split verified samples (train/validation/test_seen/test_unseen) and export the dataset",
        description=(
            "Split RUN/verified into train, validation, test_seen and test_unseen (held-out tools), and write "
            "RUN/dataset/ (Hugging Face, TRL, xLAM and flat exports, README.md, manifest.json). With --store, "
            "the run's samples join the incremental store and a new dataset version is published."
        ),
    )
    parser.add_argument("--run", required=True, type=Path, help="the run directory, e.g. data/runs/nightly")
    # Defaults live in trainer.dataset.config (AssembleConfig); a flag left out keeps the config's default.
    parser.add_argument(
        "--seed", type=int, default=None, help="split seed (default 0); same seed, same split"
    )
    parser.add_argument(
        "--unseen-fraction",
        type=float,
        default=None,
        help="share of each tier's tools held out (default 0.1)",
    )
    parser.add_argument(
        "--unseen-tools",
        default=None,
        help="comma-separated tool names to hold out (overrides --unseen-fraction)",
    )
    parser.add_argument("--store", type=Path, default=None, help="incremental sample store, e.g. data/store")
    parser.add_argument(
        "--dataset-name",
        default=None,
        help="with --store: versions go to <store>/../datasets/NAME/ (default callforge)",
    )
    parser.add_argument(
        "--include-tool-responses", action="store_true", help="add tool turns with the executed responses"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from flows.config import fill_lengths
    from flows.run_record import RunRecord, finish_assembly
    from schemas.catalog import Catalog
    from trainer.dataset.assembly import assemble
    from trainer.dataset.config import AssembleConfig
    from trainer.dataset.multi_turn_config import staged_multi_turn
    from trainer.dataset.store import SampleStore
    from trainer.row_length_cache import FILE_NAME as ROW_LENGTHS_FILE
    from trainer.row_length_cache import RowLengthCache
    from trainer.row_lengths import length_meter

    unseen = (
        tuple(n.strip() for n in args.unseen_tools.split(",") if n.strip()) if args.unseen_tools else None
    )
    split = {"seed": args.seed, "unseen_fraction": args.unseen_fraction, "unseen_tools": unseen}
    given = {
        "split": {k: v for k, v in split.items() if v is not None},
        "export": {"include_tool_responses": True} if args.include_tool_responses else {},
        **({"dataset_name": args.dataset_name} if args.dataset_name else {}),
    }
    config = fill_lengths(AssembleConfig.from_dict(given, source="callforge assemble"), None, {})
    store = SampleStore(args.store) if args.store else None
    record = RunRecord.open(args.run, args.run.name)
    record.begin("assemble")
    cache = RowLengthCache(args.store / ROW_LENGTHS_FILE) if args.store else None
    meter = length_meter(config, Catalog.load(args.run / "catalog"), cache=cache)
    # a run whose multi-turn stage finished keeps its trajectories in the dataset it reassembles
    result = assemble(args.run, config, store=store, meter=meter, attachments=staged_multi_turn(args.run))
    finish_assembly(record, result)
    print(f"dataset: {result.dataset_dir}  (version {result.version})")
    if result.version_dir is not None:
        print(f"published: {result.version_dir}")
    if result.diff is not None:
        print(result.diff.summary())
        print(f"store: {result.added} samples added, retired {result.retired or 'none'}")
    print(result.report.table())
    return 0
