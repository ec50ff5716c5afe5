"""Finding and configuring verifiers: the entry-point group ``callforge.verifiers``.

Built-ins and third-party plugins come through the same door: a package declares

    [project.entry-points."callforge.verifiers"]
    query_length = "my_package:QueryLengthVerifier"

and ``load_verifiers(["format", "query_length"], {"query_length": {"min_chars": 12}})`` returns
configured instances, ordered so that every verifier comes after the ones it ``requires`` and, among
the rest, the cheapest first.

Which verifiers run is an explicit choice: ``names=None`` means the four built-ins
(``DEFAULT_VERIFIERS``), never "everything installed" — installing a package must not silently change
which samples a nightly run accepts. A plugin runs when a config names it.
"""

from __future__ import annotations

import heapq
import importlib.metadata
import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from schemas.errors import ConfigError
from verifiers.base import ENTRY_POINT_GROUP, Verifier

log = logging.getLogger(__name__)

DEFAULT_VERIFIERS: tuple[str, ...] = ("format", "execution", "semantic", "dedup")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def _entry_points() -> dict[str, importlib.metadata.EntryPoint]:
    """Entry points of the group by name; the first distribution wins a name clash (logged)."""
    found: dict[str, importlib.metadata.EntryPoint] = {}
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in found and found[ep.name].value != ep.value:
            log.warning(
                "verifier %r is registered twice (%s and %s); using the first",
                ep.name,
                found[ep.name].value,
                ep.value,
            )
            continue
        found.setdefault(ep.name, ep)
    return found


def class_problems(cls: Any) -> list[str]:
    """What keeps ``cls`` from being a verifier class (empty when nothing does).

    Shared by the registry (at load time) and ``verifiers.testing.check_verifier`` (in plugin tests).
    """
    if not isinstance(cls, type):
        return [f"expected a verifier class, got {type(cls).__name__}"]
    problems: list[str] = []
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not _NAME.match(name):
        problems.append(f"name must be a snake_case string, got {name!r}")
    requires = getattr(cls, "requires", None)
    if not isinstance(requires, tuple) or not all(isinstance(r, str) and _NAME.match(r) for r in requires):
        problems.append(f"requires must be a tuple of verifier names, got {requires!r}")
    elif name in requires:
        problems.append("a verifier cannot require itself")
    cost = getattr(cls, "cost", None)
    if not isinstance(cost, int) or isinstance(cost, bool) or cost < 0:
        problems.append(f"cost must be a non-negative int, got {cost!r}")
    options = getattr(cls, "Options", None)
    if not (isinstance(options, type) and issubclass(options, BaseModel)):
        problems.append("Options must be a pydantic model (subclass verifiers.base.VerifierOptions)")
    elif options.model_config.get("extra") != "forbid":
        problems.append(
            "Options must reject unknown keys: extra='forbid' (subclass verifiers.base.VerifierOptions)"
        )
    if not callable(getattr(cls, "verify", None)):
        problems.append("verify(samples, ctx) is missing")
    return problems


def _check_class(name: str, target: str, cls: Any) -> None:
    """Raise ConfigError when a registered object is not a verifier class named like its entry point."""
    problems = class_problems(cls)
    if isinstance(cls, type) and getattr(cls, "name", None) != name:
        problems.append(
            f"class attribute name={getattr(cls, 'name', None)!r} must equal the entry-point name"
        )
    if problems:
        raise ConfigError(f"entry point {name!r} ({target}) is not a valid verifier: " + "; ".join(problems))


def _load_class(ep: importlib.metadata.EntryPoint) -> type[Verifier]:
    try:
        cls = ep.load()
    except Exception as exc:  # an import error in a plugin is a configuration problem of this install
        raise ConfigError(
            f"verifier {ep.name!r}: cannot import {ep.value} ({type(exc).__name__}: {exc}); "
            f"reinstall the package that provides it or drop {ep.name!r} from the verifier list"
        ) from exc
    _check_class(ep.name, ep.value, cls)
    return cls


def available() -> dict[str, type[Verifier]]:
    """Every verifier class registered in ``callforge.verifiers`` that imports cleanly, by name.

    Entry points that fail to import or are not valid verifier classes are left out with a warning
    (``load_verifiers`` names the error when such a verifier is asked for).
    """
    out: dict[str, type[Verifier]] = {}
    for name, ep in sorted(_entry_points().items()):
        try:
            out[name] = _load_class(ep)
        except ConfigError as exc:
            log.warning("%s", exc)
    return out


def _options_for(cls: type[Verifier], raw: Mapping[str, Any] | BaseModel | None) -> BaseModel:
    """Build ``cls.Options`` from a mapping; unknown keys and bad values name the verifier and key."""
    if isinstance(raw, cls.Options):
        return raw
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"options for verifier {cls.name!r} must be a mapping, got {type(raw).__name__}")
    fields = sorted(cls.Options.model_fields)
    unknown = sorted(str(k) for k in raw if k not in cls.Options.model_fields)
    if unknown:
        raise ConfigError(
            f"verifier {cls.name!r}: unknown option(s) {', '.join(repr(k) for k in unknown)}; "
            f"valid options: {', '.join(fields) or '(none)'}"
        )
    try:
        return cls.Options.model_validate(dict(raw))
    except ValidationError as exc:
        errors = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']} (got {e.get('input')!r})"
            for e in exc.errors()
        )
        raise ConfigError(f"verifier {cls.name!r}: invalid options: {errors}") from exc


def order_verifiers(verifiers: Sequence[Verifier]) -> list[Verifier]:
    """Topological order by ``requires``; among verifiers that are ready, the cheapest (then by name) first.

    Raises ConfigError when a verifier requires one that is not in ``verifiers`` or when requirements
    form a cycle.
    """
    by_name = {v.name: v for v in verifiers}
    if len(by_name) != len(verifiers):
        dupes = sorted({v.name for v in verifiers if sum(w.name == v.name for w in verifiers) > 1})
        raise ConfigError(f"verifier(s) selected twice: {', '.join(dupes)}")
    for v in verifiers:
        missing = [r for r in v.requires if r not in by_name]
        if missing:
            raise ConfigError(
                f"verifier {v.name!r} requires {', '.join(repr(m) for m in missing)}, which is not selected; "
                f"add it to the verifier list (selected: {', '.join(sorted(by_name))})"
            )
    waiting = {v.name: set(v.requires) for v in verifiers}
    ready = [(v.cost, v.name) for v in verifiers if not v.requires]
    heapq.heapify(ready)
    ordered: list[Verifier] = []
    while ready:
        _, name = heapq.heappop(ready)
        ordered.append(by_name[name])
        for other, needs in waiting.items():
            if name in needs:
                needs.discard(name)
                if not needs:
                    heapq.heappush(ready, (by_name[other].cost, other))
    if len(ordered) != len(verifiers):
        stuck = sorted(n for n in by_name if by_name[n] not in ordered)
        raise ConfigError(f"verifier requirements form a cycle among: {', '.join(stuck)}")
    return ordered


def load_verifiers(
    names: Sequence[str] | None = None, options: Mapping[str, Mapping[str, Any]] | None = None
) -> list[Verifier]:
    """Configured verifier instances for ``names`` (default: ``DEFAULT_VERIFIERS``), in run order.

    ``options`` maps a verifier name to its option mapping. Raises ConfigError for an unknown verifier
    name (listing the registered ones), options for a verifier that is not selected, an unknown option
    key (listing the valid ones), an invalid option value, or a ``requires`` that is not selected.
    """
    selected = list(DEFAULT_VERIFIERS if names is None else names)
    options = dict(options or {})
    registered = _entry_points()
    for name in selected:
        if not isinstance(name, str) or name not in registered:
            raise ConfigError(
                f"unknown verifier {name!r}; registered verifiers (entry-point group {ENTRY_POINT_GROUP!r}): "
                f"{', '.join(sorted(registered)) or '(none)'}"
            )
    stray = sorted(set(options) - set(selected))
    if stray:
        raise ConfigError(
            f"options given for verifier(s) not selected: {', '.join(repr(s) for s in stray)}; "
            f"selected: {', '.join(selected)}"
        )
    instances: list[Verifier] = []
    for name in dict.fromkeys(selected):  # a name listed twice is the same verifier
        cls = _load_class(registered[name])
        instances.append(cls(_options_for(cls, options.get(name))))
    return order_verifiers(instances)


def verifier_names(text: str | None) -> list[str] | None:
    """Parse a comma-separated CLI list (``"format, semantic"``) into names; None or blank -> None."""
    if text is None or not text.strip():
        return None
    names = [part.strip() for part in text.split(",") if part.strip()]
    bad = [n for n in names if not _NAME.match(n)]
    if bad:
        raise ConfigError(
            f"--verifiers: {', '.join(repr(b) for b in bad)} is not a verifier name (snake_case)"
        )
    return names
