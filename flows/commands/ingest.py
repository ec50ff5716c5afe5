"""``callforge ingest SPEC [SPEC…] --out DIR``: OpenAPI specs -> tool catalog + ingestion report.

    callforge ingest specs/gennx/openapi.yaml --out data/runs/nightly/catalog --tiers specs/gennx/tiers.yaml

Writes ``catalog.jsonl``, ``manifest.json`` and ``ingest_report.json`` into DIR, then prints a
summary. A spec that cannot be read stops the command with an error naming the file and JSON
pointer, and nothing is written.
"""

from __future__ import annotations

import argparse

from schemas.openapi.naming import NAMINGS


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "ingest",
        help="read OpenAPI specs into a tool catalog",
        description="Read Swagger 2.0 / OpenAPI 3.0 / 3.1 specs (JSON or YAML, split files allowed) into a catalog.",
    )
    parser.add_argument(
        "specs", nargs="+", metavar="SPEC", help="spec files; tools of all of them form one catalog"
    )
    parser.add_argument(
        "--out", required=True, metavar="DIR", help="catalog folder to write (replaced atomically)"
    )
    parser.add_argument(
        "--naming",
        choices=NAMINGS,
        default="snake",
        help="tool names: snake (post_db_node, OpenAI-safe), method_path (POST /db/NODE) or operation_id",
    )
    parser.add_argument("--tiers", metavar="RULES.yaml", help="tier rules assigning tiers and categories")
    parser.add_argument("--skip-deprecated", action="store_true", help="leave deprecated operations out")
    parser.add_argument(
        "--allowed-root",
        metavar="DIR",
        help="folder that file $refs may reach (default: each spec's own folder tree, or "
        "$CALLFORGE_SPEC_ALLOWED_ROOT); anything outside it is refused",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from schemas.openapi import ingest, write_ingest

    result = ingest(
        args.specs,
        naming=args.naming,
        tier_rules=args.tiers,
        include_deprecated=not args.skip_deprecated,
        allowed_root=args.allowed_root,
    )
    out = write_ingest(result, args.out)
    print(result.report.summary())
    print(f"wrote {out}/catalog.jsonl, manifest.json and ingest_report.json")
    return 0
