"""Load the original spec files and route a request to one of their operations.

In: spec file paths exactly as the catalog manifest stores them (relative ones are resolved against a
root directory, multi-file specs through their ``$ref``s). Out: ``LoadedSpec`` objects that match
``(origin, raw path, method)`` to an ``Operation`` — or say why nothing matches. A Swagger 2.0 file is
first upgraded in memory to an equivalent OpenAPI 3.0 document (``swagger2.py``): openapi-core reads
3.x only.

Matching follows OpenAPI: a request URL is a server URL (root-, path- or operation-level, server
variables matching any segment text) followed by a path template. The origin is the one the client
says it meant (the ``X-Callforge-Origin`` header the execution verifier sends), so an absolute server
``https://host/gen`` is checked for real; without that header only the server's path is compared.
Path variables are taken from the raw (still percent-encoded) path and decoded after matching, so
``/pets/a%2Fb`` gives ``petId = "a/b"``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from jsonschema_path import SchemaPath
from jsonschema_path.handlers.utils import uri_to_path

from schemas.errors import ConfigError, SpecError
from schemas.openapi.budgets import SpecBudgets
from schemas.openapi.load import DocumentSet
from schemas.openapi.operations import split_path_key
from schemas.openapi.refs import RefResolver, mapping_ref
from verifiers.http_answers import ERRORS_AS_200
from verifiers.sandbox.discriminators import map_branch_values
from verifiers.sandbox.swagger2 import upgrade_to_openapi30
from verifiers.sandbox.swagger2_refs import split_type_list
from verifiers.sandbox.validation import SpecValidator

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# GEN NX tables: /db/KEY (and the undocumented /db/KEY/{id}) whose writes take {"Assign": {...}}.
RESOLVED_CACHE_SIZE = 1 << 16


def _refuse_remote(uri: str) -> Any:
    raise ValueError(f"remote $ref {uri!r} is not fetched: the sandbox reads local spec files only")


# scheme (literal or a {variable}) :// authority, then the path; templates keep their {variables}.
_ABSOLUTE = re.compile(r"^[A-Za-z{][A-Za-z0-9+.\-{}]*://[^/]*(?P<path>/.*)?$")
_ASSIGN_PATH = re.compile(r"^/db/([A-Za-z0-9_\-]+)(?:/\{([^}/]+)\})?$")


def _template_regex(template: str) -> re.Pattern[str]:
    """A path or server template as a regex; ``{var}`` matches one non-empty segment's text.

    A variable named twice (``/anything/{id}/{action}/{id}``) is one parameter with one value: its
    second place must repeat the first (a backreference; a second named group is a regex error).
    """
    out, pos, seen = [], 0, set()
    for m in re.finditer(r"\{([^}]+)\}", template):
        out.append(re.escape(template[pos : m.start()]))
        group = _group(m.group(1))
        out.append(f"(?P={group})" if group in seen else f"(?P<{group}>[^/]+)")
        seen.add(group)
        pos = m.end()
    out.append(re.escape(template[pos:]))
    return re.compile("".join(out))


def _group(name: str) -> str:
    return "v_" + "".join(c if c.isalnum() else f"_{ord(c):x}_" for c in name)


@dataclass(frozen=True)
class Server:
    template: str  # trailing slash removed
    absolute: bool
    regex: re.Pattern[str]  # the whole template
    path_regex: re.Pattern[str]  # its path part, for requests that do not say which origin they meant

    @classmethod
    def of(cls, url: str) -> Server:
        template = url.rstrip("/")
        # Not urlsplit: a templated scheme ("{scheme}://host/api") is no scheme to it, and the whole
        # URL would then be taken for a path that no request path can match.
        absolute = _ABSOLUTE.match(template)
        path_part = (absolute.group("path") or "") if absolute else template
        return cls(template, bool(absolute), _template_regex(template), _template_regex(path_part))

    def strip(self, origin: str, raw_path: str) -> str | None:
        """The rest of the path after this server, or None when the URL is not under it."""
        if self.absolute and origin:
            target = origin + raw_path
            rest = _rest(target, self.regex.match(target))
            return rest
        return _rest(raw_path, self.path_regex.match(raw_path))


def _rest(target: str, m: re.Match[str] | None) -> str | None:
    if m is None:
        return None
    rest = target[m.end() :]
    if rest and not rest.startswith("/"):
        return None
    return rest or "/"


@dataclass
class Operation:
    """One operation of a spec, with what the sandbox precomputes about it."""

    method: str
    template: str
    path_item: SchemaPath
    node: SchemaPath
    servers: tuple[Server, ...]
    has_body: bool
    query_names: frozenset[str] | None  # None: cannot tell (form-exploded object), accept any
    query_prefixes: tuple[str, ...]  # deepObject parameters: name[...]
    assign_table: str | None = None  # GEN NX table key when this is a /db/KEY operation
    id_param: str | None = None  # /db/KEY/{id}
    cache: dict[str, Any] = field(default_factory=dict)  # synthesised response, built on first use
    fixed_query: tuple[tuple[str, str], ...] = ()  # from a path key such as `/files?beta=true`
    # other operations of the same method whose path keys differ only by `?query` or `#fragment`
    alternates: list[Operation] = field(default_factory=list)

    def candidates(self, query: list[tuple[str, str]]) -> list[Operation]:
        """This operation and its alternates, those whose fixed query the request carries first
        (the most specific first), then the others: the first one a request is valid for wins."""
        every = [self, *self.alternates]
        if len(every) == 1:
            return every
        sent = set(query)
        fits = sorted(
            (op for op in every if set(op.fixed_query) <= sent), key=lambda op: -len(op.fixed_query)
        )
        return fits + [op for op in every if op not in fits]


@dataclass(frozen=True)
class Match:
    operation: Operation
    variables: dict[str, str]  # decoded path variables


@dataclass(frozen=True)
class NoMatch:
    status: int
    code: str
    message: str


class LoadedSpec:
    """One spec file: its validator and its routes.

    Its files are read the way ingestion reads them (``schemas.openapi.load.DocumentSet``): JSON
    as JSON, YAML as YAML, every file ``$ref`` confined to ``allowed_root`` (default: the spec's
    folder) and every file within the budgets. All of them are read here, up front, so a spec
    that cannot be served is refused at start-up, not on some later request.
    """

    def __init__(
        self,
        key: str,
        file: Path,
        *,
        allowed_root: str | Path | None = None,
        budgets: SpecBudgets | None = None,
    ) -> None:
        self.key = key
        self.file = file
        self.docs = DocumentSet(file, allowed_root=allowed_root, budgets=budgets)
        try:
            RefResolver(self.docs).load_all_files()
        except RecursionError:
            raise SpecError(str(file), "/", "nested too deeply to read (budget max_depth)") from None
        data = self.docs.root
        self.declared_version = _declared_version(file, data)
        # errors reported as 200 + {"error": ...} (GEN NX): a spec-level setting, off unless declared
        self.errors_as_200 = data.get(ERRORS_AS_200) is True
        if self.declared_version == "2.0":  # openapi-core reads 3.x only: validate an equivalent 3.0
            data = upgrade_to_openapi30(data, file, read=self._loaded_file)
        qualify_discriminator_mappings(data)
        map_branch_values(data)  # a branch that fixes its own discriminator value is reached by it
        if self.declared_version == "2.0" or self.declared_version.startswith("3.0"):  # validated as 3.0
            split_type_lists(data)  # 3.1 syntax in a 3.0 document: openapi-core's 3.0 validator crashes on it
        else:
            honour_legacy_nullable(data)  # 3.0 syntax in a 3.1 document: ingestion honours it, so must we
        handlers = {"file": self._file_handler, "http": _refuse_remote, "https": _refuse_remote}
        try:
            # the resolved-path cache is off by default; on, a repeated lookup skips $ref resolution.
            # Only files loaded above are served (jsonschema_path would fetch http(s) refs itself).
            self.spec = SchemaPath.from_dict(
                data, base_uri=file.as_uri(), handlers=handlers, resolved_cache_maxsize=RESOLVED_CACHE_SIZE
            )
            version_text = str(self.spec["openapi"])
        except Exception as exc:
            raise SpecError(str(file), "/", f"cannot read the spec: {exc}") from exc
        self.version = ".".join(version_text.split(".")[:2])
        try:
            self.validator = SpecValidator(self.spec, self.version)
        except ValueError as exc:
            raise SpecError(str(file), "/openapi", str(exc)) from exc
        self.query_credentials = self._query_credentials()
        self.all_servers: list[Server] = []
        root_servers = self._servers(self.spec) or self._remember((Server.of("/"),))
        self.literal: dict[str, dict[str, Operation]] = {}
        self.templated: list[tuple[re.Pattern[str], str, dict[str, Operation]]] = []
        paths = self.spec / "paths"
        by_template: dict[str, dict[str, Operation]] = {}
        for key, item in paths.str_items() if paths.exists() else []:
            # `/files?beta=true`, `/contacts#add`: routed as their path, told apart by the fixed query
            template, fixed = split_path_key(key)
            for method, op in self._operations(template, item, root_servers, tuple(fixed)).items():
                known = by_template.setdefault(template, {})
                if method in known:
                    known[method].alternates.append(op)
                else:
                    known[method] = op
        for template, ops in by_template.items():
            if "{" in template:
                self.templated.append((re.compile(_template_regex(template).pattern + "$"), template, ops))
            else:
                self.literal[template] = ops
        # fewer variables first: /pets/mine beats /pets/{id} (literal paths were checked before)
        self.templated.sort(key=lambda t: t[1].count("{"))
        tables = self.assign_tables
        for op in self.operations():
            if op.assign_table not in tables:
                op.assign_table = op.id_param = None

    def _loaded_file(self, path: Path) -> Any:
        tree = self.docs.loaded(path.resolve())
        if tree is None:
            raise ValueError(
                f"{path} is not one of the files this spec's $refs name (allowed root: {self.docs.allowed})"
            )
        return tree

    def _file_handler(self, uri: str) -> Any:
        return self._loaded_file(Path(uri_to_path(uri)))

    def _servers(self, node: SchemaPath) -> tuple[Server, ...]:
        if "servers" not in node:
            return ()
        return self._remember(tuple(Server.of(str((s / "url").read_value())) for s in node / "servers"))

    def _remember(self, servers: tuple[Server, ...]) -> tuple[Server, ...]:
        for server in servers:
            if server not in self.all_servers:
                self.all_servers.append(server)
        return servers

    def _query_credentials(self) -> frozenset[str]:
        """Names of apiKey schemes sent in the query: credentials the client adds, never unknown keys."""
        schemes = self.spec / "components" / "securitySchemes"
        if not schemes.exists():
            return frozenset()
        return frozenset(
            (scheme / "name").read_str()
            for _name, scheme in schemes.str_items()
            if (scheme / "type").read_str("") == "apiKey" and (scheme / "in").read_str("") == "query"
        )

    def operations(self) -> list[Operation]:
        return [
            op for ops in [*self.literal.values(), *(t[2] for t in self.templated)] for op in ops.values()
        ]

    def _operations(
        self,
        template: str,
        item: SchemaPath,
        root: tuple[Server, ...],
        fixed_query: tuple[tuple[str, str], ...] = (),
    ) -> dict[str, Operation]:
        ops: dict[str, Operation] = {}
        path_servers = self._servers(item) or root
        for method in HTTP_METHODS:
            if method not in item:
                continue
            node = item / method
            params = [p for p in (item / "parameters" if "parameters" in item else [])]
            params += [p for p in (node / "parameters" if "parameters" in node else [])]
            query = [p for p in params if (p / "in").read_str() == "query"]
            exploded_objects = False
            for p in query:
                schema = p / "schema" if "schema" in p else None
                style = (p / "style").read_str("form")
                if style == "form" and _may_be_object(schema) and (p / "explode").read_bool(True):
                    exploded_objects = True  # its keys are the object's property names: anything goes
            assign = _ASSIGN_PATH.match(template)
            ops[method] = Operation(
                method=method,
                template=template,
                path_item=item,
                node=node,
                servers=self._servers(node) or path_servers,
                has_body="requestBody" in node,
                query_names=None
                if exploded_objects
                else frozenset((p / "name").read_str() for p in query)
                | self.query_credentials
                | {k for k, _ in fixed_query},
                query_prefixes=tuple(
                    (p / "name").read_str() + "["
                    for p in query
                    if (p / "style").read_str("form") == "deepObject"
                ),
                fixed_query=fixed_query,
            )
            if assign:
                ops[method].assign_table = assign.group(1)
                ops[method].id_param = assign.group(2)
        return ops

    def match(self, origin: str, raw_path: str, method: str) -> Match | NoMatch:
        """The operation ``method raw_path`` reaches under one of the spec's servers."""
        servers = self.all_servers
        allowed: list[str] = []
        for server in servers:
            rest = server.strip(origin, raw_path)
            if rest is None:
                continue
            found = self._path(rest)
            if found is None:
                continue
            ops, variables = found
            op = ops.get(method)
            if op is None:
                allowed = sorted(m.upper() for m in ops)
                continue
            if server not in op.servers:
                continue
            return Match(op, {k: unquote(v) for k, v in variables.items()})
        if allowed:
            return NoMatch(
                405,
                "method_not_allowed",
                f"{method.upper()} is not an operation of this path; allowed: {', '.join(allowed)}",
            )
        if not any(s.strip(origin, raw_path) is not None for s in servers):
            listed = ", ".join(s.template or "/" for s in servers)
            return NoMatch(
                404, "server_not_found", f"{origin}{raw_path} is under none of the spec's servers ({listed})"
            )
        return NoMatch(404, "path_not_found", f"no path of {self.file.name} matches {raw_path}")

    def _path(self, rest: str) -> tuple[dict[str, Operation], dict[str, str]] | None:
        ops = self.literal.get(rest)
        if ops is not None:
            return ops, {}
        for regex, template, ops in self.templated:
            m = regex.match(rest)
            if m:
                names = re.findall(r"\{([^}]+)\}", template)
                return ops, {name: m.group(_group(name)) for name in names}
        return None

    @property
    def assign_tables(self) -> set[str]:
        """GEN NX-style tables: /db/KEY paths whose POST or PUT body has an ``Assign`` property."""
        return {
            op.assign_table
            for op in self.operations()
            if op.assign_table and op.method in ("post", "put") and _has_assign(op.node)
        }


def qualify_discriminator_mappings(node: Any) -> None:
    """Spell every bare schema name in a ``discriminator.mapping`` as its ``$ref`` (in place).

    OpenAPI allows ``mapping: {dog: Dog}`` for ``#/components/schemas/Dog``; openapi-core resolves the
    value as a reference only, so a bare name refused every request ("could not be resolved").
    """
    if isinstance(node, list):
        for item in node:
            qualify_discriminator_mappings(item)
        return
    if not isinstance(node, dict):
        return
    discriminator = node.get("discriminator")
    mapping = discriminator.get("mapping") if isinstance(discriminator, dict) else None
    if isinstance(mapping, dict):
        for key, target in mapping.items():
            if isinstance(target, str):
                mapping[key] = mapping_ref(target)
    for value in node.values():
        qualify_discriminator_mappings(value)


def split_type_lists(node: Any) -> None:
    """Every schema-like ``type: [..]`` list in ``node`` rewritten in 3.0 terms (in place); see
    ``swagger2_refs.split_type_list``. Iterative: nesting is bounded by the budgets, not the stack."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, list):
            stack.extend(current)
        elif isinstance(current, dict):
            kind = current.get("type")
            if isinstance(kind, list) and all(isinstance(t, str) for t in kind):
                split_type_list(current)
            stack.extend(current.values())


def honour_legacy_nullable(node: Any) -> None:
    """Every ``nullable: true`` schema in ``node`` (3.0 syntax, ignored by 3.1 validators) rewritten in
    3.1 terms, in place, the way ingestion converts it (``schemas.openapi.convert``): ``type`` gains
    ``"null"`` (and ``enum`` gains ``None``); without a ``type`` the schema becomes ``anyOf [it, null]``.
    OpenAI's spec writes it 87 times; without this a tool that ingestion says takes null was refused."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, list):
            stack.extend(current)
            continue
        if not isinstance(current, dict):
            continue
        stack.extend(current.values())
        if current.get("nullable") is not True:
            continue
        del current["nullable"]
        kind = current.get("type")
        if isinstance(kind, str | list):
            kinds = [kind] if isinstance(kind, str) else list(kind)
            current["type"] = kinds if "null" in kinds else [*kinds, "null"]
            if isinstance(current.get("enum"), list) and None not in current["enum"]:
                current["enum"] = [*current["enum"], None]
        elif current:
            inner = dict(current)
            current.clear()
            current["anyOf"] = [inner, {"type": "null"}]


def _declared_version(file: Path, data: Any) -> str:
    """The document's ``openapi`` version, or "2.0" for Swagger 2.0; anything else is refused."""
    if not isinstance(data, dict):
        raise SpecError(str(file), "/", "expected an OpenAPI document (an object at the top)")
    if "openapi" in data:
        return str(data["openapi"])
    if "swagger" in data:
        if str(data["swagger"]) != "2.0":
            raise SpecError(
                str(file),
                "/swagger",
                f"swagger {data['swagger']!r}: the sandbox reads Swagger 2.0 and OpenAPI 3.x",
            )
        return "2.0"
    raise SpecError(
        str(file),
        "/openapi",
        "the sandbox validates OpenAPI 3.x and Swagger 2.0 documents only (no 'openapi' field)",
    )


def _may_be_object(schema: SchemaPath | None, depth: int = 0) -> bool:
    """True when ``schema`` (or one of its anyOf/oneOf/allOf branches) is an object: a form-exploded
    query parameter of it sends its property names as query keys (OpenAI's ``metadata``)."""
    if schema is None or depth > 8:
        return False
    kind = (schema / "type").read_value() if "type" in schema else None
    if kind == "object" or (isinstance(kind, list) and "object" in kind):
        return True
    return any(
        _may_be_object(branch, depth + 1)
        for key in ("anyOf", "oneOf", "allOf")
        if key in schema
        for branch in schema / key
    )


def _has_assign(node: SchemaPath) -> bool:
    try:
        content = node / "requestBody" / "content"
        for _media, media in content.str_items():
            if (
                "schema" in media
                and "properties" in media / "schema"
                and "Assign" in media / "schema" / "properties"
            ):
                return True
    except KeyError:
        return False
    return False


def resolve_spec_file(given: str, root: str | Path | None) -> Path:
    """The file a manifest's spec path names: absolute as is, relative against ``root`` then the cwd."""
    path = Path(given)
    candidates = [path] if path.is_absolute() else [Path(root) / path] if root else []
    if not path.is_absolute():
        candidates.append(Path.cwd() / path)
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    tried = ", ".join(str(c) for c in candidates)
    raise ConfigError(
        f"spec file {given!r} not found (tried {tried}); pass the directory the catalog was ingested from "
        "as the sandbox's spec root (execution option 'spec_root')"
    )
