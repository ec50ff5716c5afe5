"""Execution-verifier quality: recall on corruptions that make the HTTP request invalid.

    .venv/bin/python benchmarks/execution_quality.py --samples 900      # execution only
    .venv/bin/python benchmarks/verifier_quality.py                   # every verifier, execution included

``verifier_quality.py`` (the shared harness: clean samples from the offline generator over the real
GEN NX catalog, one corrupted copy per class) calls ``register`` below, which adds the execution
verifier's set-up — one sandbox process serving the catalog's spec files for the whole run — and its
target: >= 95% recall on the classes that break the request itself (a required argument missing, a
wrong type, an enum violation, an argument the spec does not allow), with <= 5% false rejects on the
clean samples. Meaning-level corruptions (wrong tool with valid arguments, values not in the query)
produce valid requests; execution is not expected to catch them and its recall there is printed only
for information.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from schemas.catalog import Catalog  # noqa: E402
from schemas.errors import ConfigError  # noqa: E402
from schemas.models import Sample  # noqa: E402

REQUEST_LEVEL = ("missing_required", "extra_argument", "wrong_type", "enum_violation")


@contextlib.contextmanager
def execution_setup(
    catalog: Catalog, samples: list[Sample]
) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """One sandbox for the whole benchmark: ``(options, resources)`` for the execution verifier."""
    from verifiers.sandbox import SandboxServer

    files = [e.file for e in catalog.manifest.specs] or sorted({t.source.file for t in catalog})
    missing = [f for f in files if not Path(f).is_file()]
    if not files or missing:
        raise ConfigError(
            f"the execution benchmark needs the catalog's spec files (missing: {missing or 'none listed'}); "
            "it runs on the ingested GEN NX spec, not on the hand-built fallback catalog"
        )
    with SandboxServer(files) as sandbox:
        yield {"target": "sandbox"}, {"sandbox_url": sandbox.base_url}


def register(
    setup: dict[str, Callable[..., Any]], targets: dict[str, tuple[tuple[str, ...], float, float]]
) -> None:
    """Add the execution verifier to ``verifier_quality.py``'s SETUP and TARGETS tables."""
    setup["execution"] = execution_setup
    targets["execution"] = (REQUEST_LEVEL, 0.95, 0.05)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import verifier_quality

    register(verifier_quality.SETUP, verifier_quality.TARGETS)
    sys.exit(verifier_quality.main(["--verifiers", "execution", *sys.argv[1:]]))
