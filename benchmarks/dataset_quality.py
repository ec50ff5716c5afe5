"""Label quality of the offline GEN NX dataset, each figure with its goal.

    .venv/bin/python benchmarks/dataset_quality.py              # the full plan (~10,000 samples, ~1 min)
    .venv/bin/python benchmarks/dataset_quality.py --limit 2000 # a quicker look (first items of the plan)
    .venv/bin/python benchmarks/dataset_quality.py --corpus ../shared/specs   # any spec: finishes, bounded

What `make run` generates, minus Prefect and the execution/semantic stages: ingest
``specs/gennx/openapi.yaml`` with its tiers, build the default plan, generate every item with the offline
generator, keep the samples the format verifier passes (``verifiers.format.sample_issues``). Then:

* **ambiguity** per language -- ``irrelevance``: an offered tool fits the query; ``multiple``: the target
  does not fit, or a distractor fits as well. "Fits" is judged by this script alone, never by the
  generator's phrase tables: a tool fits when the query contains the tool's name in that language (the
  spec's ``x-callforge-names``, read here from the YAML, or the operation's summary) and no longer
  catalog name containing it, and the query's verb (this file's own small lexicon) does not contradict
  the tool's HTTP method. Goal < 1 % each.
* **unmentioned empty objects** -- ``{}`` as a list item or as an id-keyed row of a create/update.
  Goal 0.
* **value-less writes** -- a POST/PUT ``/db`` call with no row values at all. Goal 0.
* **per-id deletes** -- a whole-table DELETE (the live server empties the table whatever ids are sent)
  that names rows other than the placeholder, or whose query does not say "all" / "전체". Goal 0.
* **parallel rows written twice** -- a ``parallel`` sample whose calls share a row id. Goal 0.
* **engineering ranges** -- every value of the checked fields over all calls (Poisson's ratio 0-0.5,
  damping ratios 0-1, material and element types, element node counts, numeric load factors). Goal 0
  violations.
* **names** -- distinct Korean / English names per endpoint (goal: one per endpoint).
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from generators.offline import OfflineGenerator  # noqa: E402
from generators.plan import build_plan  # noqa: E402
from schemas.models import Sample  # noqa: E402
from schemas.openapi import ingest  # noqa: E402
from verifiers.format import sample_issues  # noqa: E402

SPEC = REPO / "specs" / "gennx" / "openapi.yaml"
TIERS = REPO / "specs" / "gennx" / "tiers.yaml"
METHODS = ("get", "post", "put", "delete", "patch")

# This script's own verb lexicon: which HTTP methods a verb in the query can mean.
VERBS = {
    "en": {
        "POST": ("create", "add", "insert", "define", "new"),
        "PUT": ("update", "change", "modify", "edit"),
        "GET": ("read", "show", "list", "fetch", "retrieve", "get "),
        "DELETE": ("delete", "remove", "clear", "empty", "wipe"),
    },
    "ko": {
        "POST": ("추가", "생성", "입력", "만들"),
        "PUT": ("수정", "변경", "업데이트"),
        "GET": ("조회", "보여", "불러", "확인"),
        "DELETE": ("삭제", "지워", "지우", "비워"),
    },
}
ALL_WORDS = {"en": ("all", "every", "empty", "whole"), "ko": ("모두", "전부", "전체")}


class Names:
    """Each operation's names, read from the spec file itself."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.by_tool: dict[str, dict[str, list[str]]] = {}
        self.method: dict[str, str] = {}
        self.path: dict[str, str] = {}
        self.row_fields: dict[str, bool] = {}  # whether a /db row declares any field (25 tables do not)
        for path, item in spec["paths"].items():
            names = item.get("x-callforge-names") or {}
            for method, op in item.items():
                if method not in METHODS:
                    continue
                tool = op["operationId"]
                summary = str(op.get("summary", "")).lower()
                self.by_tool[tool] = {
                    "en": [n for n in (str(names.get("en", "")).lower(), summary) if n],
                    "ko": [str(names["ko"])] if names.get("ko") else [],
                }
                self.method[tool] = method.upper()
                self.path[tool] = path
                self.row_fields[tool] = _row_has_fields(spec, op)
        self.all = {
            lang: sorted({n for v in self.by_tool.values() for n in v[lang]}, key=len, reverse=True)
            for lang in ("en", "ko")
        }

    def alias(self, operation_ids: dict[str, str]) -> None:
        """Know each tool also by its catalog name (which may differ from the operationId)."""
        for table in (self.by_tool, self.method, self.path, self.row_fields):
            for name, operation_id in operation_ids.items():
                if operation_id in table:
                    table[name] = table[operation_id]  # type: ignore[index]

    def named(self, query: str, language: str) -> set[str]:
        """The catalog names the query says, minus those only said as part of a longer one."""
        text = query.lower() if language == "en" else query
        found = [n for n in self.all[language] if n and n in text]
        return {n for n in found if not any(n != m and n in m for m in found)}

    def fits(self, tool: str, query: str, language: str) -> bool:
        names = self.by_tool.get(tool)
        if names is None or not (set(names[language]) & self.named(query, language)):
            return False
        path, method = self.path[tool], self.method[tool]
        if not path.startswith("/db/"):
            return True  # a command: its name is the request
        text = query.lower() if language == "en" else query
        said = {m for m, words in VERBS[language].items() if any(w in text for w in words)}
        return not said or method in said


def _resolve(spec: dict[str, Any], node: Any) -> dict[str, Any]:
    for _ in range(8):
        if not isinstance(node, dict) or "$ref" not in node:
            break
        node = spec["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node if isinstance(node, dict) else {}


def _row_has_fields(spec: dict[str, Any], op: dict[str, Any]) -> bool:
    body = ((op.get("requestBody") or {}).get("content") or {}).get("application/json", {}).get("schema")
    assign = (_resolve(spec, body).get("properties") or {}).get("Assign")
    row = _resolve(spec, _resolve(spec, assign).get("additionalProperties"))
    return bool(row.get("properties") or row.get("anyOf") or row.get("oneOf"))


def empty_objects(value: Any, in_row: bool = False) -> Iterator[str]:
    """Where ``{}`` stands as a list item or as an id-keyed row."""
    if isinstance(value, dict):
        for key, sub in value.items():
            is_row = str(key).isdigit()
            if sub == {} and is_row and in_row:
                yield f"row {key}"
            yield from empty_objects(sub, in_row=in_row)
    elif isinstance(value, list):
        for sub in value:
            if sub == {}:
                yield "list item"
            yield from empty_objects(sub, in_row=in_row)


def rows(arguments: dict[str, Any]) -> set[str]:
    assign = arguments.get("Assign")
    return set(assign) if isinstance(assign, dict) else set()


def leaves(value: Any, key: str = "") -> Iterator[tuple[str, Any, Any]]:
    """(key, value, parent object) for every scalar and list under ``value``."""
    if isinstance(value, dict):
        for k, sub in value.items():
            if isinstance(sub, dict | list) and not (
                isinstance(sub, list) and sub and not isinstance(sub[0], dict)
            ):
                yield from leaves(sub, k)
            else:
                yield k, sub, value
    elif isinstance(value, list):
        for sub in value:
            yield from leaves(sub, key)


ELEMENT_NODES = {
    "BEAM": {2}, "TRUSS": {2}, "TENSTR": {2}, "COMPTR": {2}, "PLATE": {3, 4}, "PLSTRS": {3, 4},
    "PLSTRN": {3, 4}, "AXISYM": {3, 4}, "WALL": {4}, "SOLID": {4, 6, 8},
}  # fmt: skip


def range_problems(tool: str, arguments: dict[str, Any]) -> Iterator[str]:
    """Engineering facts from the GEN NX manual (material / element field tables) and physics."""
    for key, value, parent in leaves(arguments):
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if key in ("POISN", "POISSON") and not (number and 0 <= value <= 0.5):
            yield f"{tool}: Poisson's ratio {value!r} outside 0-0.5"
        if key == "POISN_M" and not all(0 <= v <= 0.5 for v in value):
            yield f"{tool}: Poisson's ratios {value!r} outside 0-0.5"
        damping = key in (
            "DAMP_RAT",
            "DRATIO",
            "DAMPING_RATIO",
            "DAMPING_RATIO_MODE_1",
            "DAMPING_RATIO_MODE_2",
        )
        damping |= key == "DAMPING" and tool in ("post_db_splc", "put_db_splc", "post_db_this", "put_db_this")
        if damping and not (number and 0 <= value <= 1):
            yield f"{tool}: damping ratio {key}={value!r} outside 0-1"
        if (
            key == "FACTOR"
            and tool.endswith(
                tuple(f"lcom_{s}" for s in ("gen", "conc", "steel", "src", "seismic", "stlcomp"))
            )
            and not number
        ):
            yield f"{tool}: load factor {value!r} is not a number"
        if (
            tool.endswith("db_matl")
            and key == "TYPE"
            and value not in ("CONC", "STEEL", "SRC", "ALUMINUM", "USER")
        ):
            yield f"{tool}: material type {value!r}"
        if tool.endswith("db_elem") and key == "NODE":
            kind = parent.get("TYPE", "BEAM")
            if kind not in ELEMENT_NODES:
                yield f"{tool}: element type {kind!r}"
            elif len(value) not in ELEMENT_NODES[kind]:
                yield f"{tool}: {kind} element with {len(value)} nodes"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=0, help="generate only the first N plan items")
    parser.add_argument(
        "--corpus", type=Path, help="instead: generate the whole plan of every spec in this folder (bounded?)"
    )
    args = parser.parse_args()
    if args.corpus:
        return corpus(args.corpus)
    started = time.perf_counter()
    with SPEC.open(encoding="utf-8") as fh:
        spec = yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    names = Names(spec)
    catalog = ingest([str(SPEC)], tier_rules=str(TIERS)).catalog
    names.alias({t.name: t.source.operation_id or t.name for t in catalog})
    stats: dict[str, int] = {}
    items = build_plan(catalog, stats=stats)
    if args.limit:
        items = items[: args.limit]
    samples, failures = OfflineGenerator(catalog).generate(items)
    tools = {t.name: t for t in catalog}
    accepted = [s for s in samples if not sample_issues(s, tools)]
    elapsed = time.perf_counter() - started
    print(
        f"GEN NX offline: {len(items)} items -> {len(samples)} samples ({len(failures)} failures), "
        f"{len(accepted)} pass the format verifier, {elapsed:.0f} s"
    )
    failure_codes = collections.Counter(f.get("code") for f in failures)
    print(f"  generator failures by code: {dict(failure_codes)}")
    print(
        f"  plan: distractors redrawn {stats.get('distractors_redrawn', 0)}, "
        f"items left without a distractor {stats.get('items_without_distractor', 0)}"
    )
    report(accepted, names)
    return 0


def corpus(folder: Path) -> int:
    """Every spec under ``folder``: items, samples, failures by code, seconds, peak memory so far."""
    import resource

    files = sorted(p for p in folder.rglob("*") if p.suffix in (".json", ".yaml", ".yml"))
    for path in files:
        started = time.perf_counter()
        try:
            catalog = ingest([str(path)]).catalog
        except Exception as exc:  # a fragment of a multi-file spec, or a spec the ingester refuses
            print(f"  {path.name}: not ingested ({type(exc).__name__})")
            continue
        items = build_plan(catalog)
        samples, failures = OfflineGenerator(catalog).generate(items)
        codes = collections.Counter(f.get("code") for f in failures)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        print(
            f"  {path.name}: {len(catalog)} tools, {len(items)} items -> {len(samples)} samples, "
            f"failures {dict(codes)}, {time.perf_counter() - started:.1f} s, peak RSS {peak} MB",
            flush=True,
        )
    return 0


@dataclass
class Figure:
    label: str
    bad: int
    total: int
    limit: float  # the highest acceptable share of bad (0.01 = under 1 %, 0 = none)
    examples: list[Any]

    @property
    def met(self) -> bool:
        return self.bad == 0 if self.limit == 0 else self.bad < self.limit * max(self.total, 1)

    def line(self) -> tuple[str, str]:
        share = f"{100 * self.bad / self.total:.2f} %" if self.total else "-"
        goal = "0" if self.limit == 0 else f"< {100 * self.limit:g} %"
        return f"{self.bad}/{self.total} = {share}", goal


def figures(samples: list[Sample], names: Names) -> list[Figure]:
    """Every figure of the module docstring over ``samples`` (format-valid GEN NX samples)."""
    by = collections.defaultdict(list)
    for s in samples:
        by[(s.style.value, s.language)].append(s)
    out = []
    for language in ("en", "ko"):
        irr = by[("irrelevance", language)]
        bad = [s for s in irr if any(names.fits(t, s.query, language) for t in s.tools)]
        out.append(Figure(f"irrelevance ambiguity ({language})", len(bad), len(irr), 0.01, bad[:2]))
        mul = by[("multiple", language)]
        bad = []
        for s in mul:
            target = s.calls[0].name
            others = [t for t in s.tools if t != target]
            if not names.fits(target, s.query, language) or any(
                names.fits(t, s.query, language) for t in others
            ):
                bad.append(s)
        out.append(Figure(f"multiple ambiguity ({language})", len(bad), len(mul), 0.01, bad[:2]))
    calls = [(s, c) for s in samples for c in s.calls]
    empty = {
        s.id: s
        for s, c in calls
        if list(
            empty_objects(c.arguments, in_row=names.method[c.name] != "DELETE" and names.row_fields[c.name])
        )
    }
    out.append(
        Figure(
            "samples with unmentioned empty objects", len(empty), len(samples), 0, list(empty.values())[:2]
        )
    )
    writes = [
        (s, c)
        for s, c in calls
        if names.method[c.name] in ("POST", "PUT")
        and names.path[c.name].startswith("/db/")
        and names.row_fields[c.name]
    ]
    valueless = [
        s
        for s, c in writes
        if not c.arguments
        or any(v in ({}, None) for v in (c.arguments.get("Assign") or {None: None}).values())
    ]
    out.append(Figure("value-less /db creates and updates", len(valueless), len(writes), 0, valueless[:2]))
    deletes = [
        (s, c) for s, c in calls if names.method[c.name] == "DELETE" and names.path[c.name].startswith("/db/")
    ]
    per_id = [
        s
        for s, c in deletes
        if rows(c.arguments) != {"1"}
        or not any(w in (s.query.lower() if s.language == "en" else s.query) for w in ALL_WORDS[s.language])
    ]
    out.append(Figure("per-id or unclear whole-table deletes", len(per_id), len(deletes), 0, per_id[:2]))
    parallel = [s for s in samples if s.style.value == "parallel"]
    twice = [
        s
        for s in parallel
        if any(n > 1 for n in collections.Counter(r for c in s.calls for r in rows(c.arguments)).values())
    ]
    out.append(Figure("parallel samples writing one row twice", len(twice), len(parallel), 0, twice[:2]))
    problems = [p for _, c in calls for p in range_problems(c.name, c.arguments)]
    checked = sum(1 for _, c in calls for k, _v, _p in leaves(c.arguments) if k in CHECKED_KEYS)
    out.append(
        Figure("engineering range violations (values checked)", len(problems), checked, 0, problems[:3])
    )
    endpoints = sorted(set(names.path.values()))
    korean = {next(iter(names.by_tool[t]["ko"]), "") for t in names.by_tool if names.path[t] in endpoints}
    out.append(
        Figure("endpoints sharing a Korean name", len(endpoints) - len(korean - {""}), len(endpoints), 0, [])
    )
    return out


CHECKED_KEYS = ("POISN", "POISSON", "POISN_M", "DAMP_RAT", "DRATIO", "DAMPING", "NODE", "FACTOR", "TYPE")


def report(samples: list[Sample], names: Names) -> None:
    found = figures(samples, names)
    width = max(len(f.label) for f in found)
    for figure in found:
        share, goal = figure.line()
        print(f"  {figure.label:<{width}}  {share:<22} goal {goal:<6} {'ok' if figure.met else 'MISSED'}")
        for example in figure.examples:
            text = (
                example if isinstance(example, str) else f"{example.query[:150]!r} tools={example.tools[:4]}"
            )
            print(f"      e.g. {text}")


if __name__ == "__main__":
    raise SystemExit(main())
