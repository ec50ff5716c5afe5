"""``callforge serve``: an OpenAI-compatible endpoint for a model, with or without a LoRA adapter.

    callforge serve --model Qwen/Qwen2.5-1.5B-Instruct --adapter data/runs/x/model/adapter --port 8000
    callforge evaluate --dataset data/runs/x/dataset --endpoint-model Qwen/Qwen2.5-1.5B-Instruct \\
        --endpoint-base-url http://127.0.0.1:8000/v1 --out data/runs/x/evaluation-served

``POST /v1/chat/completions`` with ``tools`` answers with ``tool_calls``; ``GET /v1/models`` lists the
one served name (``--served-name``, default the ``--model`` string, as vLLM does). Bound to 127.0.0.1
unless ``--host`` says otherwise; there is no authentication.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve a model (base + adapter, or merged) behind an OpenAI-compatible HTTP endpoint",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("--model", required=True, help="hub id or local model directory (base or merged)")
    parser.add_argument("--adapter", type=Path, default=None, help="LoRA adapter directory to apply")
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)"
    )
    parser.add_argument("--port", type=int, default=8000, help="port (0: any free port)")
    parser.add_argument("--served-name", default=None, help="model name clients send (default: --model)")
    parser.add_argument(
        "--constrained",
        action="store_true",
        help="decode replies to requests with tools under the tools' JSON schemas (always a valid call)",
    )
    add_loading_arguments(parser)
    parser.add_argument("--max-batch", type=int, default=8, help="requests generated together at most")
    parser.add_argument(
        "--max-tokens-limit", type=int, default=4096, help="largest max_tokens a request may ask"
    )
    parser.add_argument("--trust-remote-code", action="store_true", help="run code shipped with the model")
    parser.set_defaults(func=run)


def add_loading_arguments(parser: argparse.ArgumentParser) -> None:
    """How the model is loaded and prompted: shared by ``serve`` and ``chat``."""
    parser.add_argument("--device", default="auto", choices=["auto", "cuda", "cpu"])
    parser.add_argument(
        "--load-in-4bit",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="load the base in 4-bit NF4 (default: as the adapter was trained; QLoRA adapters get a 4-bit base)",
    )
    parser.add_argument(
        "--prompt-format",
        default="template",
        choices=["template", "apigen_text"],
        help="template: tools through the chat template (the TRL export); apigen_text: tools in the system "
        "prompt, calls as <tool_call>[...]</tool_call> (a model trained on the apigen_text export)",
    )


def load_model(args: argparse.Namespace):  # -> trainer.inference.LocalModel
    from trainer.inference import LocalModel

    return LocalModel.load(
        args.model,
        adapter=args.adapter,
        device=args.device,
        load_in_4bit=args.load_in_4bit,
        prompt_format=args.prompt_format,
        trust_remote_code=getattr(args, "trust_remote_code", False),
    )


def run(args: argparse.Namespace) -> int:
    from schemas.errors import ConfigError
    from trainer.serving.server import ChatService, ServeOptions, make_server

    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port {args.port}: expected 0-65535")
    if args.max_batch < 1:
        raise ConfigError(f"--max-batch {args.max_batch}: expected at least 1")
    local = load_model(args)
    options = ServeOptions(
        served_name=args.served_name or args.model,
        constrained=args.constrained,
        max_batch=args.max_batch,
        max_tokens_limit=args.max_tokens_limit,
    )
    try:
        server = make_server(ChatService(local, options), args.host, args.port)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    print(
        f"serving {options.served_name!r} on {server.url} ({local.device.name}, context {local.context.limit:,} "
        f"tokens{', constrained decoding' if args.constrained else ''}); Ctrl-C stops",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
