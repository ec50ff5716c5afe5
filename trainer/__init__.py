"""The model side: training at this level, with two rooms beside it.

* ``trainer.dataset`` — verified samples into a split, exported, versioned dataset (and the
  incremental sample store the refresh plans from).
* ``trainer.evaluation`` — scoring models on the held-out splits, constrained decoding, reports.
* here — training itself: ``config`` (``TrainerConfig``), ``plan`` (what runs on this machine),
  ``loading`` (base model + tokenizer from a hub id or a folder), ``trainset`` (the dataset a run
  reads), ``chat_templates``, ``train`` (SFT: QLoRA / LoRA / full), ``curves``, ``merge``,
  ``inference`` + ``replies`` (running a model and reading its calls), ``tiny`` (a model built on
  the spot for tests and smoke runs).

Imports point one way: training and evaluation read datasets; ``trainer.dataset`` imports nothing
else of ``trainer``. Nothing here imports Prefect, and importing a package is cheap: torch and the
Hugging Face stack are imported inside the functions that need them.
"""
