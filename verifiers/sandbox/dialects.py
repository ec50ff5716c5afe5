"""Which JSON Schema validator checks a schema whose ``$schema`` names a dialect jsonschema does not know.

OpenAPI 3.1 lets any schema name its own dialect. openapi-core asks jsonschema for the validator of
that exact URI and raises ``ValueError`` for one it does not know, which crashed the sandbox's
request (a 500) although the request was fine. Two kinds are seen in real specs:

- a known draft spelled differently: ``https://json-schema.org/draft-07/schema#`` (jsonschema knows
  drafts 4, 6 and 7 as ``http://...``), with or without the trailing ``#``;
- a dialect that never existed (``draft-05``): the newest draft whose meta-schema accepts the schema
  is used — a draft-04-style ``exclusiveMinimum: true`` then gets draft 4's meaning — and the
  document's default dialect when none does.

In: the dialect URI and the schema's (resolved) contents. Out: a jsonschema validator class.
Not covered: vocabularies a custom meta-schema declares; they are validated as their closest draft.
"""

from __future__ import annotations

from typing import Any

from jsonschema.exceptions import SchemaError
from jsonschema.protocols import Validator
from jsonschema.validators import (
    Draft4Validator,
    Draft6Validator,
    Draft7Validator,
    Draft201909Validator,
    Draft202012Validator,
    validator_for,
)

_OLDER_DRAFTS: tuple[type[Validator], ...] = (
    Draft201909Validator,
    Draft7Validator,
    Draft6Validator,
    Draft4Validator,
)


def validator_for_unknown_dialect(dialect: Any, contents: Any, default: type[Validator]) -> type[Validator]:
    """The validator class for a schema whose ``$schema`` jsonschema did not recognise."""
    respelled = _respelled(dialect) if isinstance(dialect, str) else None
    if respelled is not None:
        return respelled
    # the document's default first (it is 2020-12 based), then each older draft
    for meta, chosen in ((Draft202012Validator, default), *((d, d) for d in _OLDER_DRAFTS)):
        try:
            meta.check_schema(contents)
        except SchemaError:
            continue
        return chosen
    return default


def _respelled(dialect: str) -> type[Validator] | None:
    bare = dialect.rstrip("#")
    for scheme_swap in (bare, bare.replace("https://", "http://", 1), bare.replace("http://", "https://", 1)):
        for variant in (scheme_swap, scheme_swap + "#"):
            found = validator_for({"$schema": variant}, default=None)  # type: ignore[arg-type]
            if found is not None:
                return found  # type: ignore[no-any-return]
    return None
