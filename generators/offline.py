"""The offline template generator: the embedded default when no teacher is configured.

Deterministic (each item's ``random.Random`` is seeded with the item's seed) and without network. For
each work item it draws arguments that honour each target's schema (:mod:`generators.values`) and writes
a query that states every value it used (:mod:`generators.phrasing`), in English or Korean, for all
five styles. ``irrelevance`` queries are written for the item's subject -- a tool that is not offered --
and carry no calls. Samples get ``provenance.generator == "template"``.

Per-tool samplers and phrasebooks are compiled once and reused, which is what makes the generator fast
(thousands of samples per second; see ``benchmarks/teacher.py``).

    generator = OfflineGenerator(catalog)
    samples, failures = generator.generate(items)
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from generators.config import OfflineConfig
from generators.llm import failure
from generators.phrasing import Phrasebook
from generators.plan import WorkItem
from generators.values import Sampler, ValueOptions, compile_schema
from schemas.canonical import canonical_json
from schemas.catalog import Catalog
from schemas.models import Provenance, Sample, Style, ToolCall

LANGUAGES = ("en", "ko")
_DISTINCT_TRIES = 12
_SEQUENCE = {
    "en": ("First, {}.", "Then {}.", "After that, {}.", "Finally, {}."),
    "ko": ("먼저 {}.", "그 다음 {}.", "이어서 {}.", "마지막으로 {}."),
}


# Compiled kits by (tool fingerprint, options), shared across generators in this process: a run makes
# one generator per shard, and compiling a tool costs far more than drawing one sample from it. The
# fingerprint covers everything a kit is built from, so a changed tool never gets a stale kit.
_COMPILED: dict[tuple[str, ValueOptions], _ToolKit] = {}
_COMPILED_MAX = 20_000


class NoDistinctArguments(ValueError):
    """A parallel item asks for more different calls than the tool's schema allows."""


@dataclass
class _ToolKit:
    sampler: Sampler
    phrasebook: Phrasebook


def _sentence(text: str, language: str) -> str:
    text = text.strip()
    if language == "en":
        text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "?", "!")) else text + "."


class OfflineGenerator:
    """Work items -> samples from templates; deterministic for an item's seed."""

    def __init__(self, catalog: Catalog, config: OfflineConfig | None = None) -> None:
        self.catalog = catalog
        config = config or OfflineConfig()
        self.options = ValueOptions(
            optional_p=config.optional_p,
            max_optional=config.max_optional,
            example_p=config.example_p,
            default_p=config.default_p,
            map_entries=config.map_entries,
            array_items=config.array_items,
            max_ref_depth=config.max_ref_depth,
        )
        self._kits: dict[str, _ToolKit] = {}

    def kit(self, name: str) -> _ToolKit:
        """The compiled sampler and phrasebook of a tool (KeyError if the catalog lacks it)."""
        kit = self._kits.get(name)
        if kit is None:
            tool = self.catalog[name]
            key = (tool.fingerprint, self.options)
            kit = _COMPILED.get(key)
            if kit is None:
                kit = _ToolKit(compile_schema(tool.parameters, self.options), Phrasebook(tool))
                if len(_COMPILED) >= _COMPILED_MAX:
                    _COMPILED.clear()
                _COMPILED[key] = kit
            self._kits[name] = kit
        return kit

    def _distinct(self, kit: _ToolKit, count: int, rng: random.Random) -> list[dict[str, Any]]:
        """``count`` argument sets that differ from each other and touch no row twice (parallel calls
        doing the same twice teach nothing, and two writes of one row depend on their order); fewer
        when the schema cannot give that many."""
        found: dict[str, dict[str, Any]] = {}
        touched: set[tuple[str, ...]] = set()
        for _ in range(count * _DISTINCT_TRIES):
            args = kit.sampler(rng)
            rows = kit.phrasebook.rows(args)
            if rows & touched or canonical_json(args) in found:
                continue
            found[canonical_json(args)] = args
            touched |= rows
            if len(found) == count:
                break
        return list(found.values())

    def render(self, item: WorkItem, rng: random.Random) -> tuple[str, list[ToolCall]]:
        """The query and calls for ``item``; KeyError for unknown tools, NoDistinctArguments if impossible."""
        language = item.language
        style = Style(item.style)
        if style is Style.IRRELEVANCE:
            kit = self.kit(item.subject)
            return _sentence(kit.phrasebook.clause(kit.sampler(rng), language, rng), language), []
        if style is Style.PARALLEL:
            kit = self.kit(item.targets[0])
            arguments = self._distinct(kit, len(item.targets), rng)
            if len(arguments) < len(item.targets):
                raise NoDistinctArguments(
                    f"{item.targets[0]} cannot take {len(item.targets)} different argument sets"
                )
            query = _sentence(kit.phrasebook.repeated(arguments, language, rng), language)
            return query, [ToolCall(name=item.targets[0], arguments=a) for a in arguments]
        calls: list[ToolCall] = []
        clauses: list[str] = []
        for name in item.targets:
            kit = self.kit(name)
            arguments = kit.sampler(rng)
            calls.append(ToolCall(name=name, arguments=arguments))
            clauses.append(kit.phrasebook.clause(arguments, language, rng))
        if len(clauses) == 1:
            return _sentence(clauses[0], language), calls
        steps = _SEQUENCE[language]
        picks = [steps[0], *[steps[1 + (i % 2)] for i in range(len(clauses) - 2)], steps[-1]]
        return " ".join(p.format(c) for p, c in zip(picks, clauses, strict=True)), calls

    def generate_item(self, item: WorkItem) -> Sample | dict[str, Any]:
        """One item: a Sample, or a failure dict (never raises for a bad item)."""
        if item.language not in LANGUAGES:
            return failure(
                item,
                "unsupported_language",
                f"the offline generator writes {LANGUAGES}, not {item.language!r}",
            )
        rng = random.Random(item.seed)
        try:
            query, calls = self.render(item, rng)
        except KeyError as exc:
            return failure(item, "unknown_tool", str(exc.args[0] if exc.args else exc))
        except NoDistinctArguments as exc:
            return failure(item, "no_distinct_arguments", str(exc))
        except Exception as exc:  # a bug must cost one item, not the shard
            return failure(item, "generator_error", f"{type(exc).__name__}: {exc}")
        try:
            return Sample.create(
                query=query,
                language=item.language,
                style=item.style,
                tools=list(item.offered),
                calls=calls,
                tier=item.tier,
                provenance=Provenance(generator="template", seed=item.seed, work_item=item.id),
            )
        except ValidationError as exc:
            return failure(item, "invalid_sample", str(exc.errors()[0]["msg"]))

    def generate(
        self, items: Iterable[WorkItem], *, progress: Callable[[int], None] | None = None
    ) -> tuple[list[Sample], list[dict[str, Any]]]:
        samples: list[Sample] = []
        failures: list[dict[str, Any]] = []
        for item in items:
            result = self.generate_item(item)
            (samples if isinstance(result, Sample) else failures).append(result)  # type: ignore[arg-type]
            if progress is not None:
                progress(1)
        return samples, failures
