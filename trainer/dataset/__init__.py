"""Dataset assembly: verified samples in, a split, exported, versioned dataset out.

* ``assembly`` — the stage: read verified shards, split, export, card, manifest, store.
* ``config`` — what assembly can be told (``AssembleConfig`` composed of ``SplitConfig`` and
  ``ExportOptions``); importable without the writers, so a run config validates it at start.
* ``splits`` — deterministic, tier-aware train / validation / test_seen / test_unseen.
* ``encoders`` — samples into TRL / xLAM / flat rows (fast paths of ``schemas.records``).
* ``exports`` — writing those rows (JSONL, Parquet, a ``datasets.DatasetDict``).
* ``card`` — the dataset card, split report and manifest.
* ``store`` — the incremental sample store keyed by tool fingerprint, and dataset versions. It lives
  here because assembly is its only writer; the refresh flow reads it to plan only what a spec
  change touched, and ``flows`` may import ``trainer`` (never the other way).
"""
