"""``callforge chat``: ask a model one question with tools offered, and print the calls it makes.

    callforge chat --model Qwen/Qwen2.5-1.5B-Instruct --adapter data/runs/gennx/model/adapter \
        --tools data/runs/gennx/catalog --tool post_db_node --tool get_db_node "Add node 1 at the origin"
    echo "Add node 1 at the origin" | callforge chat --model merged/ --tools tools.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from flows.commands.serve import add_loading_arguments, load_model


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "chat",
        help="try a model by hand: one query, tools offered, parsed calls printed",
        description="Render the query with the offered tools through the model's chat template, generate, "
        "and print the raw reply and the parsed tool calls as JSON.",
    )
    parser.add_argument("--model", required=True, help="hub id or local model directory")
    parser.add_argument("--adapter", type=Path, default=None, help="LoRA adapter directory to apply")
    parser.add_argument(
        "--tools", required=True, type=Path, help="catalog directory, catalog.jsonl, or a JSON list of tools"
    )
    parser.add_argument("--tool", action="append", default=[], help="offer only this tool (repeatable)")
    parser.add_argument("--system", default=None, help="system prompt (default: the training records' one)")
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--temperature", type=float, default=0.0)
    add_loading_arguments(parser)
    parser.add_argument("query", nargs="?", default=None, help="the user's request (default: read stdin)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    from schemas.errors import ConfigError
    from schemas.records import DEFAULT_SYSTEM_PROMPT
    from trainer.inference import load_tool_schemas, parse_tool_calls

    query = args.query if args.query is not None else sys.stdin.read()
    if not query.strip():
        raise ConfigError("no query: pass it as an argument or on stdin")
    tools = load_tool_schemas(args.tools, args.tool)
    model = load_model(args)
    messages = [
        {"role": "system", "content": args.system or DEFAULT_SYSTEM_PROMPT},
        {"role": "user", "content": query.strip()},
    ]
    # The whole GEN NX catalog renders to ~336k tokens: refuse rather than generate from a cut prompt.
    model.context.require(
        model.context.measure(model.render, messages, tools, max_new_tokens=args.max_new_tokens)
    )
    reply = model.generate(
        [messages], [tools], max_new_tokens=args.max_new_tokens, temperature=args.temperature
    )[0]
    parsed = parse_tool_calls(reply)
    print(f"reply: {reply}")
    print(json.dumps(parsed.model_dump(mode="json"), indent=2, ensure_ascii=False))
    return 0
