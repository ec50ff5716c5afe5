"""Suite-wide settings (offline Hugging Face and Prefect, whatever the caller's environment says) and the
example verifier plugin, installed once for every test that configures it (a fresh clone has it nowhere)."""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import os
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

# Set before any Hugging Face import: without them a hub lookup takes 25–50 s to fail offline.
for _key, _value in {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
    "TOKENIZERS_PARALLELISM": "false",
    # Parsed specs are cached under ~/.cache by default; the suite stays hermetic (tests that check the
    # cache point it at a temporary directory).
    "CALLFORGE_PARSE_CACHE": "off",
}.items():
    os.environ.setdefault(_key, _value)


PLUGIN_DIR = Path(__file__).resolve().parent / "plugins" / "callforge_example_verifier"
PLUGIN_DIST = "callforge-example-verifier"


def _plugin_installed_from_here() -> bool:
    try:
        dist = importlib.metadata.distribution(PLUGIN_DIST)
        url = json.loads(dist.read_text("direct_url.json") or "{}").get("url", "")
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return False
    has_entry_point = any(ep.name == "query_length" for ep in dist.entry_points)
    return has_entry_point and url == PLUGIN_DIR.as_uri()


@pytest.fixture(scope="session")
def example_plugin() -> importlib.metadata.Distribution:
    """Install tests/plugins/callforge_example_verifier into this interpreter's environment (once;
    later sessions find it installed) and make it importable in this process."""
    if not _plugin_installed_from_here():
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--disable-pip-version-check",
             "--no-input", "-q", "-e", str(PLUGIN_DIR)],
            check=True, capture_output=True, timeout=300,
        )  # fmt: skip
    importlib.invalidate_caches()
    dist = importlib.metadata.distribution(PLUGIN_DIST)
    # An editable install is a .pth hook that site.py runs at start-up; run it now for this process.
    purelib = sysconfig.get_paths()["purelib"]
    for file in dist.files or []:
        if file.name.endswith(".pth"):
            site.addpackage(purelib, file.name, set())
    return dist
