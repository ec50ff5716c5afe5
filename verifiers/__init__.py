"""Verifiers: judge candidate samples and keep every verdict.

    from verifiers.registry import load_verifiers
    from verifiers.pipeline import run_verifiers, verify_shard
    from verifiers.summary import VerdictSummary
    from verifiers.base import VerifyContext

Modules: ``base`` (the Verifier protocol, options, context, side-channel keys), ``registry``
(entry-point discovery, configuration, run order), ``pipeline`` (gating, acceptance, shards on
disk), ``summary`` (the one verdict summary every report shows), the built-ins ``format`` (+ ``arguments``), ``execution`` (+ ``sandbox``,
``request``), ``semantic`` (+ ``grounding``, ``alignment``, ``similarity``, ``judge``, ``lexicon``),
``dedup`` (+ ``near_duplicates``), and ``testing`` (the conformance check for plugin authors; see
``verifiers/WRITING_A_VERIFIER.md``). Nothing is imported here, so ``import verifiers.x`` stays cheap.
"""
