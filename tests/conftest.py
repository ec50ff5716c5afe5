"""Suite-wide settings: offline Hugging Face and Prefect, whatever the caller's environment says."""

from __future__ import annotations

import os

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
