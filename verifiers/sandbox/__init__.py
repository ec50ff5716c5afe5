"""The spec-driven sandbox: a real HTTP server on loopback that validates every request against the
original OpenAPI file with openapi-core and answers like the API would (examples, synthesised bodies,
and an in-memory model of GEN NX ``/db`` tables). See ``server.py`` for the entry point."""

from verifiers.sandbox.server import SandboxError, SandboxServer, build_app

__all__ = ["SandboxError", "SandboxServer", "build_app"]
