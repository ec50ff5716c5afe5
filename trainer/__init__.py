"""The model side: training at this level, with two rooms beside it.

* ``trainer.dataset`` — verified samples into a split, exported, versioned dataset (and the
  incremental sample store the refresh plans from).
* ``trainer.evaluation`` — scoring models on the held-out splits, constrained decoding, reports.
* ``trainer.serving`` — ``callforge serve``: an OpenAI-compatible endpoint over ``inference``.
* here — training itself: ``config`` (``TrainerConfig``), ``plan`` (what runs on this machine) and
  ``fitting`` (the batch fitted to the GPU's memory), ``loading`` (base model + tokenizer from a hub
  id or a folder), ``trainset`` (the dataset a run reads), ``packing`` (rows with assistant-only
  labels, packed without padding), ``chat_templates``, ``train`` (SFT: QLoRA / LoRA / full),
  ``curves``, ``merge``, ``inference`` + ``replies`` + ``context`` (running a model, reading its
  calls, checking the prompt fits), ``tiny`` (models built on the spot for tests and smoke runs).

Imports point one way: training and evaluation read datasets; ``trainer.dataset`` imports nothing
else of ``trainer``. Nothing here imports Prefect, and importing a package is cheap: torch and the
Hugging Face stack are imported inside the functions that need them.
"""
