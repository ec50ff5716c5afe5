"""Security requirements and schemes: recorded on the binding, never turned into arguments.

Swagger 2.0 schemes are normalised to their OpenAPI 3 shape (``basic`` -> ``http``/``basic``,
``oauth2`` ``flow`` -> ``flows``) so consumers handle one vocabulary. The credentials themselves
come from the environment at execution time; a model never sees or produces them.
"""

from __future__ import annotations

from typing import Any

from schemas.openapi.pointers import join
from schemas.openapi.spec import Spec

_SWAGGER2_FLOWS = {
    "implicit": "implicit",
    "password": "password",
    "application": "clientCredentials",
    "accessCode": "authorizationCode",
}
_SCHEME_KEYS = ("type", "scheme", "bearerFormat", "in", "name", "flows", "openIdConnectUrl", "description")


def security_schemes(spec: Spec) -> dict[str, dict[str, Any]]:
    """Every declared scheme of the document, by name, in OpenAPI 3 shape."""
    if spec.major == 2:
        raw, pointer = spec.root.get("securityDefinitions"), "/securityDefinitions"
    else:
        components = spec.root.get("components")
        raw = components.get("securitySchemes") if isinstance(components, dict) else None
        pointer = "/components/securitySchemes"
    if not isinstance(raw, dict):
        return {}
    schemes: dict[str, dict[str, Any]] = {}
    for name, node in raw.items():
        target = spec.follow(node, spec.file, join(pointer, name), "security scheme")
        if target is None or not isinstance(target.node, dict):
            continue
        scheme = _normalise(target.node) if spec.major == 2 else dict(target.node)
        schemes[name] = {k: v for k, v in scheme.items() if k in _SCHEME_KEYS}
    return schemes


def credential_parameters(schemes: dict[str, dict[str, Any]]) -> frozenset[tuple[str, str]]:
    """(in, name) of every apiKey credential; header names lower-cased (they are case-insensitive)."""
    found: set[tuple[str, str]] = set()
    for scheme in schemes.values():
        if scheme.get("type") == "apiKey" and isinstance(name := scheme.get("name"), str):
            where = str(scheme.get("in"))
            found.add((where, name.lower() if where == "header" else name))
    return frozenset(found)


def operation_security(
    spec: Spec, operation: dict[str, Any], pointer: str, schemes: dict[str, dict[str, Any]]
) -> tuple[list[dict[str, list[str]]], dict[str, dict[str, Any]]]:
    """(requirements, the schemes they name) for an operation; its own ``security`` overrides the root's."""
    if "security" in operation:
        raw, at = operation["security"], join(pointer, "security")
    else:
        raw, at = spec.root.get("security"), "/security"
    if raw is None:
        return [], {}
    if not isinstance(raw, list):
        spec.warn(at, "invalid_security", "security must be a list of requirement objects; ignored")
        return [], {}
    requirements: list[dict[str, list[str]]] = []
    used: dict[str, dict[str, Any]] = {}
    for index, requirement in enumerate(raw):
        if not isinstance(requirement, dict):
            spec.warn(
                join(at, index), "invalid_security", "a security requirement must be an object; ignored"
            )
            continue
        clean: dict[str, list[str]] = {}
        for name, scopes in requirement.items():
            clean[name] = [str(s) for s in scopes] if isinstance(scopes, list) else []
            if name in schemes:
                used[name] = schemes[name]
            else:
                spec.warn(
                    join(at, index, name),
                    "missing_security_scheme",
                    f"security scheme {name!r} is not declared",
                )
        requirements.append(clean)
    return requirements, dict(sorted(used.items()))


def _normalise(node: dict[str, Any]) -> dict[str, Any]:
    kind = node.get("type")
    if kind == "basic":
        return {"type": "http", "scheme": "basic", **{k: v for k, v in node.items() if k == "description"}}
    if kind == "oauth2":
        flow: dict[str, Any] = {"scopes": node.get("scopes") if isinstance(node.get("scopes"), dict) else {}}
        for key in ("authorizationUrl", "tokenUrl"):
            if isinstance(node.get(key), str):
                flow[key] = node[key]
        out = {"type": "oauth2", "flows": {_SWAGGER2_FLOWS.get(str(node.get("flow")), "implicit"): flow}}
        if "description" in node:
            out["description"] = node["description"]
        return out
    return dict(node)
