"""openapi-core request validation, built once per spec and made fast enough for a sandbox.

In: a parsed spec (``jsonschema_path.SchemaPath``) and its OpenAPI version. Out: a ``SpecValidator``
whose ``errors(request, operation, path_item)`` lists what openapi-core finds wrong with a request.

Why the extra classes: openapi-core builds a fresh JSON-Schema validator, caster and style
deserialiser for every parameter of every request (and deep-copies a format checker each time);
that was ~70% of its cost here. The ``_Caching*`` factories build each of them once per schema
location and reuse it — the validation itself is openapi-core's, unchanged. Path finding is done by
``routing.py`` (openapi-core's finder scans every path with a regex on each request), so this module
calls the validator's per-operation entry point directly.

Where the sandbox reads a request differently from stock openapi-core (each a false reject there):

- every ``+json`` media type (``application/merge-patch+json``, ``application/problem+json``...) is
  decoded as JSON; openapi-core decodes only ``application/json`` and ``application/vnd.api+json``
  and checked any other one as bytes, so no such body could pass.
- a JSON body (``application/json`` or ``+json``) sent to a media range (``*/*``, ``application/*``)
  is decoded as JSON: openapi-core decodes a body by the range it matched, i.e. as bytes, so the JSON
  the request builder sends for a range failed every object schema. A body of any other type sent to
  a range is still read as bytes.
- multipart text parts (``text/plain``, declared or by default) are cast to their property's type
  before the schema check, as openapi-core already does for urlencoded fields; it never cast them,
  so ``count=3`` in a part failed ``type: integer``. A part that does not cast is left as text and
  the schema check names it.
- a multipart part whose schema has no ``type`` (``anyOf``/``oneOf``) is read as JSON when it is JSON
  (openapi-core kept the raw text, which no branch accepted), a part typed by a 3.1 type list is read
  as text or JSON (openapi-core crashed on it), and an optional array with no part at all is absent
  rather than ``[]``.
- in OpenAPI 3.1 documents, multipart file parts reach the (plain JSON Schema) validator as text
  rather than bytes, which no ``type: string`` accepted.
- a 3.0 parameter schema marked ``readOnly`` (an attribute reused as a parameter) is not refused:
  ``readOnly`` concerns properties only.
- ``time`` is RFC 3339 ``full-time`` (offset required), not draft 3's ``%H:%M:%S``.
- ``spaceDelimited`` splits on a space and the extra ``tabDelimited`` style (Swagger 2.0
  ``collectionFormat: tsv``, which the upgrade in ``swagger2.py`` keeps) on a tab: values reach
  openapi-core already percent-decoded, query and urlencoded body alike (openapi-core split on a
  literal ``%20``, which a decoded value never holds).
- header parameters named ``Accept``, ``Content-Type`` or ``Authorization`` are not validated:
  OpenAPI 3.x says such a definition SHALL be ignored (the client sets those headers), and ingestion
  makes no argument of them, so openapi-core's "missing required header" refused every request.
  Security schemes are checked as before (they are read apart from parameters).
- an array parameter whose items are objects or arrays reads each item as JSON text
  (``structured_items.py``): OpenAPI leaves that spelling undefined and openapi-core refused it.
- a schema whose ``$schema`` names a dialect jsonschema does not know (``https://`` spellings of
  drafts 4-7, or ``draft-05``, which never existed) is checked with the closest known draft
  (``dialects.py``) instead of crashing the request (a 500).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from jsonschema_path import SchemaPath
from openapi_core import V30RequestValidator, V31RequestValidator, V32RequestValidator
from openapi_core.casting.schemas import oas30_types_caster, oas31_types_caster
from openapi_core.casting.schemas.exceptions import CastError
from openapi_core.casting.schemas.factories import SchemaCastersFactory
from openapi_core.datatypes import RequestParameters
from openapi_core.deserializing.media_types import media_type_deserializers
from openapi_core.deserializing.media_types.deserializers import MediaTypeDeserializer
from openapi_core.deserializing.media_types.factories import MediaTypeDeserializersFactory
from openapi_core.deserializing.media_types.util import binary_loads, json_loads
from openapi_core.deserializing.styles import StyleDeserializersFactory, style_deserializers
from openapi_core.deserializing.styles.util import delimited_loads
from openapi_core.schema.encodings import get_content_type
from openapi_core.templating.media_types.datatypes import MediaType
from openapi_core.templating.media_types.exceptions import MediaTypeNotFound
from openapi_core.validation.request.exceptions import (
    MissingParameter,
    MissingRequiredRequestBody,
    ParameterValidationError,
    RequestBodyValidationError,
    SecurityValidationError,
)
from openapi_core.validation.schemas import (
    oas30_write_schema_validators_factory,
    oas31_schema_validators_factory,
    oas32_schema_validators_factory,
)
from openapi_core.validation.schemas.factories import SchemaValidatorsFactory
from openapi_schema_validator import OAS30Validator, OAS30WriteValidator

from schemas.openapi.parameters import IGNORED_HEADERS
from verifiers.request_encoding import is_json_media
from verifiers.sandbox.dialects import validator_for_unknown_dialect
from verifiers.sandbox.structured_items import has_structured_items, read_items_as_json

log = logging.getLogger("callforge.sandbox")


def _install_subnode_fast_path() -> None:
    """Skip a runtime ``Protocol`` isinstance check for plain dict/list nodes in pathable.

    ``pathable``'s accessor checks ``isinstance(node, Subscriptable)`` (a runtime-checkable Protocol) on
    every step of every spec lookup; on Python 3.11 that check walks the protocol's MRO each time and was
    ~45% of openapi-core's request validation here. dict and list *are* Subscriptable, so answering
    them directly returns exactly what the original does; anything else still goes through it.
    """
    from pathable.accessors import SubscriptableAccessor

    if getattr(SubscriptableAccessor, "_callforge_fast_path", False):
        return
    original = SubscriptableAccessor.__dict__["_get_subnode"].__func__

    def _get_subnode(cls: Any, node: Any, part: Any) -> Any:
        if type(node) is dict or type(node) is list:
            try:
                return node[part]
            except (KeyError, IndexError, TypeError) as exc:
                raise KeyError(part) from exc
        return original(cls, node, part)

    SubscriptableAccessor._get_subnode = classmethod(_get_subnode)  # type: ignore[method-assign,assignment]
    SubscriptableAccessor._callforge_fast_path = True  # type: ignore[attr-defined]


_install_subnode_fast_path()


class _JsonForMediaRanges:
    """Decodes a JSON body matched by a media range as the JSON type it was sent in, not the range.

    openapi-core hands its body decoder the content key it matched (``*/*``), which no decoder
    knows, so the body stays bytes; naming the request's own type picks the JSON decoder instead.
    """

    def _find_media_type(self, content: SchemaPath, mimetype: str | None = None) -> MediaType:
        found: MediaType = super()._find_media_type(content, mimetype)  # type: ignore[misc]
        sent = (mimetype or "").split(";", 1)[0].strip().lower()
        if "*" in found.mime_type and is_json_media(sent):
            return found._replace(mime_type=sent)
        return found


class _IgnoredHeaders:
    """Skips header parameters OpenAPI says to ignore, as if the request had left them out.

    Raising ``MissingParameter`` (not the *required* one) is openapi-core's own "absent, fine": the
    parameter is then neither required nor validated.
    """

    def _get_parameter(self, parameters: RequestParameters, param: SchemaPath) -> Any:
        name = (param / "name").read_str()
        location = (param / "in").read_str()
        if location == "header" and name.lower() in IGNORED_HEADERS:
            raise MissingParameter(name, location)
        return super()._get_parameter(parameters, param)  # type: ignore[misc]


class _V30RequestValidator(_IgnoredHeaders, _JsonForMediaRanges, V30RequestValidator):
    pass


class _V31RequestValidator(_IgnoredHeaders, _JsonForMediaRanges, V31RequestValidator):
    pass


class _V32RequestValidator(_IgnoredHeaders, _JsonForMediaRanges, V32RequestValidator):
    pass


_VERSIONS: dict[str, tuple[Any, SchemaValidatorsFactory, Any]] = {
    "3.0": (_V30RequestValidator, oas30_write_schema_validators_factory, oas30_types_caster),
    "3.1": (_V31RequestValidator, oas31_schema_validators_factory, oas31_types_caster),
    "3.2": (_V32RequestValidator, oas32_schema_validators_factory, oas31_types_caster),
}


# RFC 3339 full-time (what JSON Schema's `time` means): the offset is required. jsonschema's generic
# FormatChecker, which openapi-core uses, checks `time` with draft 3's "%H:%M:%S" instead, refusing
# every time with an offset (`06:30:00Z`) and accepting every time without one.
_FULL_TIME = re.compile(
    r"^(?:[01]\d|2[0-3]):[0-5]\d:(?:[0-5]\d|60)(?:\.\d+)?(?:[Zz]|[+-](?:[01]\d|2[0-3]):[0-5]\d)$"
)


def is_rfc3339_time(instance: object) -> bool:
    return not isinstance(instance, str) or _FULL_TIME.match(instance) is not None


_FORMATS: dict[str, Any] = {"time": is_rfc3339_time}


class _CachingSchemaValidatorsFactory(SchemaValidatorsFactory):
    """Delegates to openapi-core's factory once per (schema location, options) and keeps the result."""

    def __init__(self, inner: SchemaValidatorsFactory) -> None:
        super().__init__(inner.schema_validator_cls, inner.format_checker)
        self._inner = inner
        self._cache: dict[tuple[Any, ...], Any] = {}
        self._unknown_dialects: set[Any] = set()

    def get_validator_cls(self, spec: SchemaPath, schema: SchemaPath) -> Any:
        try:
            chosen = self._inner.get_validator_cls(spec, schema)
            # OpenAPI 3.0: readOnly "is relevant only for Schema properties"; the write validator refuses
            # any readOnly value, so a parameter whose schema reuses a readOnly attribute (DigitalOcean's
            # ssh_key_identifier: anyOf [id, fingerprint], both readOnly) refused every call.
            if chosen is OAS30WriteValidator and _is_parameter_schema(schema):
                return OAS30Validator
            return chosen
        except ValueError as exc:  # "Unknown JSON Schema dialect": the spec's fault, not the request's
            dialect = (schema / "$schema").read_value() if "$schema" in schema else None
            with schema.resolve() as resolved:
                chosen = validator_for_unknown_dialect(dialect, resolved.contents, self.schema_validator_cls)
            if dialect not in self._unknown_dialects:
                self._unknown_dialects.add(dialect)
                log.warning(
                    "%s at %s; validating it as %s", exc, "/".join(map(str, schema.parts)), chosen.__name__
                )
            return chosen

    def create(  # type: ignore[override]
        self,
        spec: SchemaPath,
        schema: SchemaPath,
        format_validators: Any = None,
        extra_format_validators: Any = None,
        forbid_unspecified_additional_properties: bool = False,
        enforce_properties_required: bool = False,
    ) -> Any:
        extra_format_validators = {**_FORMATS, **(extra_format_validators or {})}
        key = (
            schema.parts,
            id(format_validators),
            tuple(sorted(extra_format_validators)),
            forbid_unspecified_additional_properties,
            enforce_properties_required,
        )
        found = self._cache.get(key)
        if found is None:
            # the base class's create, not the inner factory's: it asks *our* get_validator_cls
            found = super().create(
                spec,
                schema,
                format_validators=format_validators,
                extra_format_validators=extra_format_validators,
                forbid_unspecified_additional_properties=forbid_unspecified_additional_properties,
                enforce_properties_required=enforce_properties_required,
            )
            self._cache[key] = found
        return found


def _is_parameter_schema(schema: SchemaPath) -> bool:
    parts = [str(p) for p in schema.parts]
    return "parameters" in parts and "requestBody" not in parts and "properties" not in parts


class _CachingSchemaCastersFactory(SchemaCastersFactory):
    def __init__(self, validators: SchemaValidatorsFactory, types_caster: Any) -> None:
        super().__init__(validators, types_caster)
        self._cache: dict[tuple[Any, ...], Any] = {}

    def create(  # type: ignore[override]
        self,
        spec: SchemaPath,
        schema: SchemaPath,
        format_validators: Any = None,
        extra_format_validators: Any = None,
    ) -> Any:
        key = (schema.parts, id(format_validators), id(extra_format_validators))
        found = self._cache.get(key)
        if found is None:
            found = super().create(spec, schema, format_validators, extra_format_validators)
            self._cache[key] = found
        return found


_STYLE_LOADERS: dict[str, Callable[[bool, str, str, Mapping[str, Any]], Any]] = {
    **style_deserializers,
    "spaceDelimited": partial(delimited_loads, delimiter=" "),
    "tabDelimited": partial(delimited_loads, delimiter="\t"),
}


class _CachingStyleDeserializersFactory(StyleDeserializersFactory):
    def __init__(self, casters: SchemaCastersFactory) -> None:
        super().__init__(casters, style_deserializers=_STYLE_LOADERS)
        self._cache: dict[tuple[Any, ...], Any] = {}

    def create(self, spec: SchemaPath, schema: SchemaPath, style: str, explode: bool, name: str) -> Any:
        key = (schema.parts, style, explode, name)
        found = self._cache.get(key)
        if found is None:
            found = super().create(spec, schema, style, explode, name)
            if has_structured_items(schema):
                found = read_items_as_json(found)
            self._cache[key] = found
        return found


class _BodyLoaders(dict[str, Any]):
    """openapi-core's body decoders by media type; an unlisted ``+json`` type is JSON, not bytes."""

    def __missing__(self, mimetype: str) -> Any:
        return json_loads if mimetype.endswith("+json") else binary_loads


class _PartCastingDeserializer(MediaTypeDeserializer):
    """A multipart body decoder that casts each text part to its property's schema type.

    In OpenAPI 3.1 a file part is a JSON Schema ``string`` (``contentMediaType``/``format: binary``),
    and the 3.1 validator is plain JSON Schema: the raw bytes openapi-core hands it are no string,
    so every upload failed. There, non-text parts are given to the schema check as text (latin-1,
    one character per byte, so length limits still count bytes).
    """

    bytes_as_text = False

    def decode_property_content_type(
        self, prop_name: str, prop_schema: SchemaPath, location: Any, prop_encoding: SchemaPath | None = None
    ) -> Any:
        kind = (prop_schema / "type").read_value() if "type" in prop_schema else None
        if (
            self.mimetype.startswith("multipart")
            and kind == "array"
            and hasattr(location, "getlist")
            and not location.getlist(prop_name)
        ):
            # an optional array with no part at all is absent, not [] (which `minItems: 1` refuses)
            raise KeyError(prop_name)
        if isinstance(kind, list) and prop_encoding is None:
            # a 3.1 type list (`["string", "null"]`): openapi-core crashed picking a decoder (HTTP 500)
            raw = location[prop_name]  # KeyError: absent, as openapi-core expects
            text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
            if "string" in kind or not isinstance(text, str):
                return text
            try:
                return json.loads(text)
            except ValueError:
                return text
        value = super().decode_property_content_type(prop_name, prop_schema, location, prop_encoding)
        if "type" not in prop_schema and prop_encoding is None and isinstance(value, str | bytes):
            # no type to pick a decoder by (anyOf [boolean, null], anyOf ["auto", object]): openapi-core
            # keeps the raw part, which no branch accepts; a part that is JSON is read as JSON
            try:
                return json.loads(value)
            except ValueError:
                pass
        if self.bytes_as_text and isinstance(value, bytes):
            return value.decode("latin-1")
        if self.bytes_as_text and isinstance(value, list):
            return [v.decode("latin-1") if isinstance(v, bytes) else v for v in value]
        if self.schema_caster is None or get_content_type(prop_schema, prop_encoding) != "text/plain":
            return value
        try:
            return self.schema_caster.evolve(prop_schema).cast(value)
        except (CastError, TypeError, ValueError):
            return value  # left as text: the schema check then says which part and what type it wanted


class _BodyDeserializersFactory(MediaTypeDeserializersFactory):
    bytes_as_text = False  # OpenAPI 3.1+: file parts are validated as strings

    def create(self, *args: Any, **kwargs: Any) -> MediaTypeDeserializer:
        made = super().create(*args, **kwargs)
        if not made.mimetype.startswith("multipart"):
            return made
        part_caster = _PartCastingDeserializer(
            made.spec,
            made.style_deserializers_factory,
            made.media_types_deserializer,
            made.mimetype,
            schema=made.schema,
            schema_validator=made.schema_validator,
            schema_caster=made.schema_caster,
            encoding=made.encoding,
            **made.parameters,
        )
        part_caster.bytes_as_text = self.bytes_as_text
        return part_caster


@dataclass
class ValidationRequest:
    """The request as openapi-core's ``Request`` protocol wants it (path variables already decoded)."""

    host_url: str
    path: str
    method: str  # lower case
    body: bytes | None
    content_type: str
    parameters: RequestParameters


@dataclass(frozen=True)
class RequestProblem:
    """One thing wrong with a request: HTTP status to answer, reason code, message for people."""

    status: int
    code: str
    message: str


class SpecValidator:
    """openapi-core's request validator for one spec, with cached schema machinery."""

    def __init__(self, spec: SchemaPath, version: str) -> None:
        if version not in _VERSIONS:
            raise ValueError(f"openapi-core validates OpenAPI {', '.join(_VERSIONS)}; got {version}")
        validator_cls, base_factory, types_caster = _VERSIONS[version]
        validators = _CachingSchemaValidatorsFactory(base_factory)
        casters = _CachingSchemaCastersFactory(validators, types_caster)
        styles = _CachingStyleDeserializersFactory(casters)
        bodies = _BodyDeserializersFactory(
            styles, media_type_deserializers=_BodyLoaders(media_type_deserializers)
        )
        bodies.bytes_as_text = version != "3.0"
        self._validator = validator_cls(
            spec,
            schema_validators_factory=validators,
            schema_casters_factory=casters,
            style_deserializers_factory=styles,
            media_type_deserializers_factory=bodies,
        )
        if not hasattr(self._validator, "_iter_errors"):  # the per-operation entry point we rely on
            raise RuntimeError("this openapi-core has no per-operation request validation (_iter_errors)")

    def errors(
        self, request: ValidationRequest, operation: SchemaPath, path_item: SchemaPath
    ) -> list[RequestProblem]:
        """Every problem openapi-core reports for ``request`` against ``operation``."""
        return [describe(exc) for exc in self._iter(request, operation, path_item)]

    def _iter(
        self, request: ValidationRequest, operation: SchemaPath, path_item: SchemaPath
    ) -> Iterator[Exception]:
        yield from self._validator._iter_errors(request, operation, path_item)


def describe(exc: Exception) -> RequestProblem:
    """An openapi-core error as (status, code, message); schema errors are listed with their location."""
    cause = exc.__cause__
    detail = _schema_errors(cause)
    if isinstance(exc, SecurityValidationError):
        return RequestProblem(401, "security", str(exc.__cause__ or exc) or "missing credentials")
    if isinstance(exc, ParameterValidationError):
        message = str(exc)
        if cause is not None:
            message += f": {detail or cause}"
        return RequestProblem(400, f"{exc.location}_parameter", message)
    if isinstance(exc, MissingRequiredRequestBody):
        return RequestProblem(400, "missing_body", str(exc))
    if isinstance(exc, RequestBodyValidationError):
        if isinstance(cause, MediaTypeNotFound):
            return RequestProblem(415, "media_type", f"Request body media type not accepted: {cause}")
        return RequestProblem(422, "request_body", f"Request body validation error: {detail or cause or exc}")
    return RequestProblem(400, "invalid_request", str(exc) or type(exc).__name__)


def _schema_errors(cause: BaseException | None) -> str:
    errors = getattr(cause, "schema_errors", None)
    if not errors:
        return ""
    parts = []
    for err in errors:
        where = "/".join(str(p) for p in getattr(err, "absolute_path", ()))
        parts.append(f"{'/' + where if where else '(root)'}: {err.message}")
    return "; ".join(parts)
