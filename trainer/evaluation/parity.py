"""Checking the ``bfcl`` rule set against BFCL's own AST checker (the oracle), case by case.

    oracle = load_oracle()            # None where the bfcl-eval package cannot be imported
    report = compare(entries, oracle)  # cases generated from each entry; verdicts of both; differences

The oracle is BFCL's published checker (package ``bfcl-eval``, Apache-2.0), imported, never copied.
Its module imports BFCL's whole model registry (dozens of vendor SDKs) only to ask whether a model
writes dots in function names as underscores; where those SDKs are missing, that one registry module
is replaced by a table that answers "no" for every model, which is what scoring a reply that spells
names as the question does needs. ``load_oracle`` looks for the package on ``sys.path`` and in the
folder named by ``CALLFORGE_BFCL_EVAL`` (e.g. ``pip install --no-deps --target .bfcl bfcl-eval``).

Cases per entry: the reference answer, every acceptable alternative, each omittable argument left
out, and perturbations a checker has to get right (``"units!"``, tabs for spaces, dropped
apostrophes, off-by-one integers, ``5.0`` for ``5``, ``True`` for ``1``, missing and extra
parameters, wrong names, reordered and duplicated parallel calls, abstention).
"""

from __future__ import annotations

import copy
import importlib
import os
import sys
import types
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainer.evaluation.bfcl import BfclEntry
from trainer.evaluation.scoring import Call, ReferenceCall, Rules, check_call, check_calls

OracleCheck = Callable[[BfclEntry, list[Call]], tuple[bool, str]]


def load_oracle(search: Sequence[Path] = ()) -> tuple[OracleCheck, Path] | None:
    """BFCL's checker as ``check(entry, calls) -> (valid, error_type)`` and its data folder, or None."""
    candidates: list[str | Path] = [*search, os.environ.get("CALLFORGE_BFCL_EVAL", "")]
    extra = [Path(p) for p in candidates if str(p)]
    for folder in extra:
        if (folder / "bfcl_eval").is_dir() and str(folder) not in sys.path:
            sys.path.append(str(folder))
    try:
        importlib.import_module("bfcl_eval")
    except ImportError:
        return None
    try:
        checker = importlib.import_module("bfcl_eval.eval_checker.ast_eval.ast_checker")
    except ImportError:
        for name in [m for m in sys.modules if m.startswith("bfcl_eval.")]:
            del sys.modules[name]
        registry = types.ModuleType("bfcl_eval.constants.model_config")
        registry.MODEL_CONFIG_MAPPING = _NoDotRewrite()  # type: ignore[attr-defined]
        sys.modules[registry.__name__] = registry
        try:
            checker = importlib.import_module("bfcl_eval.eval_checker.ast_eval.ast_checker")
        except ImportError:
            return None
    language = importlib.import_module("bfcl_eval.constants.enums").Language.PYTHON
    if checker.__file__ is None:  # a namespace package, not the installed checker
        return None
    data = Path(checker.__file__).parents[2] / "data"

    def check(entry: BfclEntry, calls: list[Call]) -> tuple[bool, str]:
        if "relevance" in entry.category:  # BFCL decides these without its AST checker
            valid = not calls if "irrelevance" in entry.category else bool(calls)
            return valid, "" if valid else "relevance"
        output = [{c.name: copy.deepcopy(dict(c.arguments))} for c in calls]
        result = checker.ast_checker(
            copy.deepcopy(entry.raw_functions),
            output,
            copy.deepcopy(entry.raw_truth),
            language,
            entry.category,
            _MODEL,
        )
        return bool(result["valid"]), result.get("error_type", "") if not result["valid"] else ""

    return check, data


_MODEL = "callforge-parity"


class _NoDotRewrite(dict):
    def __missing__(self, key: str) -> Any:
        return types.SimpleNamespace(underscore_to_dot=False)


# ---------------------------------------------------------------------------------------- cases


def _concrete(option: Any) -> Any:
    """A value a right reply would hold for a BFCL option: its objects are ``{key: [acceptable…]}``."""
    if isinstance(option, dict) and all(isinstance(v, list) for v in option.values()):
        return {
            k: copy.deepcopy(next(o for o in v if o != ""))
            for k, v in option.items()
            if any(o != "" for o in v)
        }
    if isinstance(option, list) and option and all(isinstance(o, dict) for o in option):
        return [_concrete(o) for o in option]
    return copy.deepcopy(option)


def reference_arguments(reference: ReferenceCall, pick: dict[str, int] | None = None) -> dict[str, Any]:
    out = {}
    for key, options in reference.values.items():
        index = (pick or {}).get(key, 0)
        if options and index >= 0:
            out[key] = _concrete(options[min(index, len(options) - 1)])
    return out


_STRING_EDITS: tuple[tuple[str, Callable[[str], str]], ...] = (
    ("exclaim", lambda s: s + "!"),
    ("parenthesised", lambda s: f"({s})"),
    ("tabs", lambda s: s.replace(" ", "\t") if " " in s else s + "\t"),
    ("no_apostrophe", lambda s: s.replace("'", "") if "'" in s else s + "'"),
    ("upper", str.upper),
    ("spaced", lambda s: " ".join(s)),
    ("hyphen", lambda s: s.replace(" ", "-")),
    ("empty", lambda s: ""),
    ("truncated", lambda s: s[:-1]),
)


def _value_edits(value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, bool):
        yield "negated", not value
        yield "as_int", int(value)
        yield "as_string", str(value).lower()
    elif isinstance(value, int):
        yield "plus_one", value + 1
        yield "as_float", float(value)
        yield "as_string", str(value)
        if value in (0, 1):
            yield "as_bool", bool(value)
    elif isinstance(value, float):
        yield "nudged", value * (1 + 1e-12) if value else 1e-12
        if value.is_integer():
            yield "as_int", int(value)
        yield "as_string", repr(value)
    elif isinstance(value, str):
        for name, edit in _STRING_EDITS:
            yield name, edit(value)
    elif isinstance(value, list):
        if value:
            yield "dropped_item", value[:-1]
            yield "reversed", value[::-1]
            for name, edited in _value_edits(value[0]):
                yield f"first_item_{name}", [edited, *value[1:]]
        yield "empty_list", []
        yield "tuple_as_scalar", value[0] if value else None
    elif isinstance(value, dict):
        for key in list(value)[:3]:
            yield "dropped_key", {k: v for k, v in value.items() if k != key}
            for name, edited in _value_edits(value[key]):
                yield f"key_{name}", {**value, key: edited}
        yield "extra_key", {**value, "extra": 1}


@dataclass(frozen=True)
class Case:
    entry: BfclEntry
    kind: str
    calls: list[Call]


def cases(entry: BfclEntry) -> Iterator[Case]:
    """The generated replies for one entry (see the module docstring)."""
    refs = entry.references
    base = [Call(r.name, reference_arguments(r)) for r in refs]
    yield Case(entry, "reference", base)
    yield Case(entry, "abstain", [])
    if not refs:
        first = next(iter(entry.functions), "f")
        yield Case(entry, "called", [Call(first, {})])
        return
    if len(base) > 1:
        yield Case(entry, "reversed_order", base[::-1])
        yield Case(entry, "dropped_call", base[:-1])
    yield Case(entry, "duplicated_call", [*base, base[0]])
    for i, ref in enumerate(refs):

        def replaced(call: Call, i: int = i) -> list[Call]:
            return [call if j == i else c for j, c in enumerate(base)]

        args = base[i].arguments
        yield Case(entry, "renamed", replaced(Call(ref.name + "_x", args)))
        others = [n for n in entry.functions if n != ref.name]
        if others:
            yield Case(entry, "other_function", replaced(Call(others[0], args)))
        yield Case(entry, "extra_param", replaced(Call(ref.name, {**args, "unexpected_param": 1})))
        for key, options in ref.values.items():
            for k in range(1, len(options)):
                yield Case(entry, "alternative", replaced(Call(ref.name, reference_arguments(ref, {key: k}))))
            if key in ref.omittable or key in args:
                without = {k: v for k, v in args.items() if k != key}
                yield Case(entry, "omitted", replaced(Call(ref.name, without)))
            if key not in args:
                continue
            for name, edited in _value_edits(args[key]):
                yield Case(entry, f"value_{name}", replaced(Call(ref.name, {**args, key: edited})))


# ----------------------------------------------------------------------------------- comparison


@dataclass
class ParityReport:
    cases: int = 0
    agree: int = 0
    rejected_by_both: int = 0
    greedy_pairing: int = 0  # BFCL rejects only because it pairs parallel calls greedily
    oracle_errors: int = 0  # the oracle raised (malformed data for its checker)
    classes: Counter[str] = field(default_factory=Counter)
    examples: dict[str, tuple[str, str, list[Call]]] = field(default_factory=dict)

    @property
    def counted(self) -> int:
        return self.cases - self.greedy_pairing - self.oracle_errors

    @property
    def agreement(self) -> float:
        return self.agree / self.counted if self.counted else 1.0


def greedy_would_fail(entry: BfclEntry, calls: list[Call]) -> bool:
    """True when pairing ``calls`` greedily, reference by reference, strands a reference that an
    optimal pairing matches (BFCL's parallel checker pairs this way)."""
    used: set[int] = set()
    for ref in entry.references:
        match = next(
            (
                i
                for i, call in enumerate(calls)
                if i not in used and check_call(call, ref, entry.functions.get(ref.name), Rules.BFCL).valid
            ),
            None,
        )
        if match is None:
            return True
        used.add(match)
    return False


def compare(entries: Sequence[BfclEntry], oracle: OracleCheck, rules: Rules = Rules.BFCL) -> ParityReport:
    """Both verdicts on every generated case; disagreements grouped by class (case kind, who accepts,
    each side's error type). Cases BFCL rejects only for its greedy pairing are counted apart."""
    report = ParityReport()
    for entry in entries:
        for case in cases(entry):
            report.cases += 1
            ours = check_calls(case.calls, entry.references, entry.functions, entry.category, rules)
            try:
                theirs, their_error = oracle(entry, case.calls)
            except Exception:  # the oracle crashing on a case is counted, not fatal
                report.oracle_errors += 1
                continue
            if ours.valid == theirs:
                report.agree += 1
                report.rejected_by_both += not theirs
                continue
            if ours.valid and "parallel" in entry.category and greedy_would_fail(entry, case.calls):
                report.greedy_pairing += 1
                continue
            label = (
                f"{case.kind}: bfcl-eval {'accepts' if theirs else 'rejects'} ({their_error or '-'}), "
                + (f"callforge {'accepts' if ours.valid else 'rejects'} ({ours.error_type or '-'})")
            )
            report.classes[label] += 1
            report.examples.setdefault(label, (entry.id, entry.category, case.calls))
    return report
