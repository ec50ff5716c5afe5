"""``callforge refresh``: the whole pipeline on one spec, in Prefect's ephemeral mode by default.

    callforge refresh                               # bundled GEN NX spec, offline generator, sandbox
    callforge refresh --limit 50                    # a quick run: at most 50 work items
    callforge refresh --spec my.yaml                # another spec (no tier rules unless --tier-rules)
    callforge refresh --dask-address tcp://10.0.0.5:8786   # shards on a Dask cluster

Without ``PREFECT_API_URL`` Prefect starts a temporary local server for the run (state under
``PREFECT_HOME``, default ``~/.prefect``); with it, the run is recorded on that server and shows in its
UI. Prints where the dataset, the report and the Prefect state are.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "refresh",
        help="ingest, generate, verify and assemble a dataset (optionally train and evaluate)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--spec", help="OpenAPI file (default: specs/gennx/openapi.yaml)")
    parser.add_argument(
        "--tier-rules",
        help='tier rules YAML; "" for none (default: the GEN NX rules with the GEN NX spec only)',
    )
    parser.add_argument("--config", dest="config_file", help="run config YAML/JSON (flows.config.RunConfig)")
    parser.add_argument(
        "--run-name",
        help="runs/<name>; default: resume an abandoned run with the same parameters or start a new one",
    )
    parser.add_argument("--data-root", help="where runs/ and store/ live (default: ./data)")
    parser.add_argument(
        "--limit", type=int, help="at most this many work items (a quick run; not published unless --publish)"
    )
    parser.add_argument(
        "--publish",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="publish the dataset (a new version under <data-root>/datasets/<spec>/ and the event that "
        "starts a fine-tune); default: a full run publishes, a --limit run does not",
    )
    parser.add_argument("--train", action="store_true", help="also fine-tune and evaluate")
    parser.add_argument("--base-model", help="model to fine-tune with --train (hub id or local directory)")
    parser.add_argument("--workers", type=int, help="thread-pool size for shard tasks")
    parser.add_argument(
        "--dask-address", help="run shard tasks on this Dask scheduler (needs callforge[dask])"
    )
    parser.add_argument("--verifiers", help="comma-separated verifier names (default: the built-ins)")
    parser.add_argument("--no-sandbox", action="store_true", help="do not start the spec-driven sandbox")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


def settings_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The ``settings`` mapping the flags beyond the flat refresh parameters describe."""
    settings: dict[str, Any] = {}
    runner: dict[str, Any] = {}
    if args.dask_address:
        runner.update(kind="dask", address=args.dask_address)
    if args.workers:
        runner["max_workers"] = args.workers
    if runner:
        settings["task_runner"] = runner
    if args.verifiers:
        settings["verifiers"] = [v.strip() for v in args.verifiers.split(",") if v.strip()]
    if args.no_sandbox:
        settings["sandbox"] = False
    return settings


# Set before Prefect is imported. The ephemeral server needs more than the default 20 s to start on a
# busy 2-core machine; the embedded default sends nothing off the machine.
# The client retries: Prefect retries 429/502/503; a database restart behind a server answers 500 (504
# behind a proxy) for a few seconds, so those are retried too, 6 times (about two minutes of backoff),
# as prefect.yaml sets them for worker-run flows.
EMBEDDED_DEFAULTS = {
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_CLIENT_RETRY_EXTRA_CODES": "500,504",
    "PREFECT_CLIENT_MAX_RETRIES": "6",
}


class _OwnErrorsWithoutTraceback(logging.Filter):
    """callforge's own errors (``CallforgeError``: a dead teacher, a bad record) carry a message that
    says what to do; Prefect's traceback of them is noise to the user, so the record keeps the message."""

    def filter(self, record: logging.LogRecord) -> bool:
        from schemas.errors import CallforgeError

        if record.exc_info and isinstance(record.exc_info[1], CallforgeError):
            record.exc_info, record.exc_text = None, None
        return True


def run(args: argparse.Namespace) -> int:
    for name in ("prefect.flow_runs", "prefect.task_runs"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _OwnErrorsWithoutTraceback) for f in logger.filters):
            logger.addFilter(_OwnErrorsWithoutTraceback())
    for key, value in EMBEDDED_DEFAULTS.items():
        os.environ.setdefault(key, value)
    if not args.no_progress:
        # Our bars replace the libraries' tqdm bars (datasets' save bars; those that honour TQDM_DISABLE).
        os.environ.setdefault("TQDM_DISABLE", "1")
        os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    # One line per HTTP call to the local Prefect API is noise at the CLI's INFO level.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    from prefect.settings import PREFECT_API_URL, PREFECT_HOME

    from flows.leftovers import clean_leftovers
    from flows.orphan_guard import OrphanGuard
    from flows.progress import TerminalProgress
    from flows.refresh import build_config, refresh
    from flows.run_ownership import claim, release

    parameters: dict[str, Any] = {
        "spec": args.spec,
        "tier_rules": args.tier_rules,
        "run_name": args.run_name,
        "data_root": args.data_root,
        "config_file": args.config_file,
        "limit": args.limit,
        "train": args.train,
        "base_model": args.base_model,
        "publish": args.publish,
        "settings": settings_from_args(args) or None,
    }
    parameters = {k: v for k, v in parameters.items() if v is not None}
    # Choose and lock the run folder here (an abandoned run with the same parameters is resumed, one a
    # live process holds never is), so flow and summary agree; the flow's own claim is re-entrant.
    config = claim(build_config(**parameters))  # the flow logs which folder, and why
    parameters["run_name"] = config.run_name
    try:
        removed = clean_leftovers([config.run_dir], [Path(config.data_root) / "datasets"])
        if removed:
            print(f"removed {len(removed)} leftover(s) of an interrupted run: {', '.join(map(str, removed))}")
        started = time.perf_counter()
        # The guard stops the temporary Prefect server and the sandbox if this process is killed.
        with OrphanGuard():
            if args.no_progress:
                result = refresh(**parameters)
            else:
                with TerminalProgress():
                    result = refresh(**parameters)
    finally:
        release(config.run_dir)
    elapsed = time.perf_counter() - started
    api = PREFECT_API_URL.value()
    print()
    print(f"refresh {config.run_name} finished in {elapsed:.1f} s")
    print(f"  dataset:  {result['dataset_dir']}")
    assembled = result.get("assemble") or {}
    print(
        f"  version:  {assembled.get('dataset_name')} {assembled.get('version')} ({assembled.get('publication')})"
    )
    print(f"  report:   {result['report']}")
    print(f"  manifest: {os.path.join(result['run_dir'], 'manifest.json')}")
    print(
        f"  prefect:  {'server ' + api if api else 'ephemeral mode'}; state in PREFECT_HOME={PREFECT_HOME.value()}"
    )
    return 0
