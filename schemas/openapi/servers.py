"""Base URLs: OpenAPI 3 ``servers`` (operation > path item > document) and Swagger 2.0 host/basePath.

The first server of the nearest level wins. Server variables are substituted with their defaults
(the enum's first value when a default is missing); the variables themselves are kept so a caller
can pick another value. The URL never ends with ``/``: ``server_url + path`` is the request URL.
"""

from __future__ import annotations

import re
from typing import Any

from schemas.openapi.spec import Spec

_VARIABLE = re.compile(r"\{([^{}]+)\}")


def server_for(
    spec: Spec, levels: list[tuple[Any, str]], *, swagger2_schemes: Any = None
) -> tuple[str, dict[str, Any]]:
    """(server_url, server_variables) for an operation.

    ``levels`` are the (``servers`` value, pointer) pairs nearest first: operation, path item,
    document. Swagger 2.0 documents ignore them and use ``schemes``/``host``/``basePath``, an
    operation's own ``schemes`` (``swagger2_schemes``) over the document's.
    """
    if spec.major == 2:
        return _swagger2_url(spec.root, swagger2_schemes), {}
    for servers, pointer in levels:
        if isinstance(servers, list) and servers:
            return _server(spec, servers[0], pointer + "/0")
    return "", {}


def _server(spec: Spec, server: Any, pointer: str) -> tuple[str, dict[str, Any]]:
    if not isinstance(server, dict) or not isinstance(server.get("url"), str):
        spec.warn(pointer, "invalid_server", "a server needs a string 'url'; no base URL used")
        return "", {}
    raw_vars = raw if isinstance(raw := server.get("variables"), dict) else {}
    variables: dict[str, Any] = {}
    for name, var in raw_vars.items():
        if isinstance(var, dict):
            variables[name] = {k: v for k, v in var.items() if k in ("default", "enum", "description")}

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        var = variables.get(name, {})
        if "default" in var:
            return str(var["default"])
        value = str(var["enum"][0]) if isinstance(var.get("enum"), list) and var["enum"] else ""
        spec.warn(
            pointer + "/variables",
            "invalid_server",
            f"server variable {name!r} has no default; using {value!r}",
        )
        return value

    return _VARIABLE.sub(substitute, server["url"]).rstrip("/"), variables


def _swagger2_url(root: dict[str, Any], operation_schemes: Any = None) -> str:
    base_path = path if isinstance(path := root.get("basePath"), str) else ""
    host = name if isinstance(name := root.get("host"), str) else ""
    if not host:
        return base_path.rstrip("/")
    declared = operation_schemes if isinstance(operation_schemes, list) else root.get("schemes")
    schemes = [s for s in declared if isinstance(s, str)] if isinstance(declared, list) else []
    return f"{swagger2_scheme(schemes)}://{host}{base_path}".rstrip("/")


def swagger2_scheme(schemes: list[str]) -> str:
    """The scheme a Swagger 2.0 operation is bound to: https when declared or when none is.

    The spec says to default to the scheme the document was fetched with; files have none, so https.
    The sandbox serves the operation there first (``verifiers.sandbox.swagger2.servers``).
    """
    return "https" if not schemes or "https" in schemes else schemes[0]
