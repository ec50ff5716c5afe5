"""The native YAML fast path gives exactly the spec loader's (PyYAML's) tree, or declines."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml

from schemas.errors import SpecError
from schemas.openapi import yaml_loader
from schemas.openapi.load import _SpecLoader, parse_text
from schemas.openapi.yaml_loader import load_fast

ROOT = Path(__file__).resolve().parents[2]
RESOLVERS = _SpecLoader.yaml_implicit_resolvers
pytestmark = pytest.mark.skipif(yaml_loader.NATIVE is None, reason="ryaml is not installed")


def pyyaml(text: str):
    return yaml.load(text, Loader=_SpecLoader)


@pytest.mark.parametrize(
    ("case", "text"),
    [
        # YAML 1.1 (PyYAML) and YAML 1.2 (ryaml) read these plain scalars differently.
        ("plain yes is a bool in 1.1", "a: yes\n"),
        ("sexagesimal 18:00 is 1080 in 1.1", "open: 18:00\n"),
        ("leading-zero octal", "a: 012\n"),
        ("underscored int", "a: 1_000\n"),
        ("sign before a leading dot is a string in 1.1", "a: [-.5, 1]\n"),
        ("exponent without a dot is a string in 1.1", "a: 1e5\n"),
        ("exponent without a sign is a string in 1.1", "a: 1.5e5\n"),
        ("0o is a string in 1.1", "a: 0o17\n"),
        ("merge key", "base: &b {x: 1}\nd:\n  <<: *b\n  y: 2\n"),
        ("tag", "a: !!binary aGVsbG8=\n"),
        ("bool and int keys collapse in a dict", "true: a\n1: b\n"),
        ("float and int keys collapse in a dict", "1: a\n1.0: b\n"),
        ("int key and the same string key", "200: a\n'200': b\n"),
        ("duplicate keys (PyYAML keeps the last)", "a: 1\na: 2\n"),
    ],
    ids=lambda v: v if " " in v else "",
)
def test_documents_read_differently_are_left_to_pyyaml(case, text):
    assert load_fast(text, RESOLVERS) is None, case
    assert parse_text(text.encode(), "t.yaml") == pyyaml(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("'NO': {}\nb: 'No'\n", {"NO": {}, "b": "No"}),  # quoted: a string in both
        ("200: ok\n~: x\n", {"200": "ok", "null": "x"}),  # keys become strings as the spec loader makes them
        ("a: 1.0e-10\nb: -2\nc: .5\nd: 0x1F\n", {"a": 1e-10, "b": -2, "c": 0.5, "d": 31}),
        ("a: 2024-01-01\nb: ''\nc: 'true'\nd: true\n", {"a": "2024-01-01", "b": "", "c": "true", "d": True}),
        ("s: Ele-03, then 07\n", {"s": "Ele-03, then 07"}),
    ],
)
def test_documents_read_alike_take_the_fast_path(text, expected):
    fast = load_fast(text, RESOLVERS)
    assert fast == expected == pyyaml(text)
    assert repr(fast) == repr(pyyaml(text))  # types and key order too (1 vs 1.0 vs True)


_SCALARS = [
    "yes", "No", "NO", "on", "Off", "true", "False", "null", "~", "", "0", "012", "0o12", "0x1F",
    "0b101", "1_000", "+12", "-0", "1.5", "1.", "-.5", ".5", "1e5", "1.5e5", "1.5e+5", "1.0e-10",
    "18:00", ".inf", "-.Inf", ".NaN", "2024-01-01", "=", "<<", "abc", "a b", "3e1f", "v1.0", "0777",
]  # fmt: skip


def _render(value: str, rng: random.Random) -> str:
    style = rng.choice(["plain", "plain", "single", "double"])
    if style == "single":
        return "'" + value.replace("'", "''") + "'"
    return '"' + value + '"' if style == "double" else value


def test_whatever_the_fast_path_accepts_equals_pyyaml_exactly():
    rng = random.Random(7)
    accepted = 0
    for _ in range(1500):
        lines = []
        for i in range(rng.randint(1, 5)):
            key, a, b = (_render(rng.choice([*_SCALARS, f"k{i}"]), rng) for _ in range(3))
            lines.append(
                rng.choice(
                    [f"{key}: {a}", f"{key}:\n  - {a}\n  - {b}", f"{key}: [{a}, {b}]", f"{key}: {{{a}: {b}}}"]
                )
            )
        text = "\n".join(lines) + "\n"
        fast = load_fast(text, RESOLVERS)
        if fast is None:
            continue
        accepted += 1
        assert repr(fast) == repr(pyyaml(text)), text
    assert accepted > 100  # the comparison ran on enough documents to mean something


@pytest.mark.slow  # PyYAML parses the 1.7 MB spec for the comparison (~1-3 s)
def test_the_gennx_spec_takes_the_fast_path_with_the_same_tree():
    text = (ROOT / "specs" / "gennx" / "openapi.yaml").read_text(encoding="utf-8")
    fast = load_fast(text, RESOLVERS)
    assert fast is not None
    assert fast == pyyaml(text)


def test_many_nested_flow_collections_never_reach_the_native_parser(monkeypatch: pytest.MonkeyPatch):
    # ryaml's time grows with the square of nested flow collections; libyaml refuses depth > 1,000 at once.
    def must_not_run(text: str) -> None:
        raise AssertionError("the native parser was called")

    monkeypatch.setattr(yaml_loader, "NATIVE", must_not_run)
    deep = "{a: " * (yaml_loader.MAX_FLOW_OPENERS + 1) + "1" + "}" * (yaml_loader.MAX_FLOW_OPENERS + 1)
    assert load_fast(deep, RESOLVERS) is None
    with pytest.raises(SpecError, match="not valid YAML"):
        parse_text(deep.encode(), "deep.yaml")


def test_without_the_native_parser_pyyaml_parses(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(yaml_loader, "NATIVE", None)
    assert load_fast("a: 1\n", RESOLVERS) is None
    assert parse_text(b"a: 1\n", "t.yaml") == {"a": 1}


def test_the_real_yaml_specs_read_the_same_on_the_fast_path():
    """Every YAML file of the real specs (DigitalOcean: 187 files, 1.5 MB) reads exactly as PyYAML reads it,
    or is left to PyYAML; the fast path must take most of them for this to mean something."""
    folder = ROOT / "tests" / "data" / "real_specs"
    files = sorted(p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml"))
    taken = 0
    for file in files:
        text = file.read_text(encoding="utf-8")
        fast = load_fast(text, RESOLVERS)
        if fast is not None:
            taken += 1
            assert repr(fast) == repr(pyyaml(text)), file
    assert len(files) > 100 and taken > len(files) * 0.9
