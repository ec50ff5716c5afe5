"""Evaluation: models scored on the held-out splits, with one definition of each metric.

* ``evaluate`` — the stage: examples from ``test_seen`` / ``test_unseen``, every model, the report.
* ``backends`` — the models compared, behind one interface (local model, adapter, endpoint).
* ``metrics`` — AST / exact match, tool choice, irrelevance and their intervals.
* ``report`` — ``report.md`` and plots.
* ``constrained`` + ``call_grammar`` + ``schema_nodes`` — schema-constrained decoding of tool calls
  for local models (the grammar, compiled from the offered tools' JSON Schemas).
"""
