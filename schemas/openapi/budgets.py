"""Budgets on untrusted spec input: how big, deep and tangled a spec may be before it is refused.

A spec is input from outside; these limits make a hostile or broken one end in a :class:`SpecError`
naming the file and JSON pointer within seconds, instead of a hang, a ``MemoryError`` or a
``RecursionError`` traceback. Each default is far above what real specs need: of the 40 measured
(the shared corpus, GEN NX, DigitalOcean, Discord, OpenAI, DocuSign), the largest file is 4.1 MB
(Kubernetes), the deepest file nests 21 levels (OpenAI), schema conversion nests at most 28 levels
and schema ``$ref``s at most 11.

=====================  ==========================================================  ==============
budget                 what it bounds                                              default
=====================  ==========================================================  ==============
``max_file_bytes``     size of one spec file (root or referenced)                  64 MiB
``max_depth``          nesting of objects/lists in one file, and of schemas being  128
                       converted ($refs included)
``max_nodes``          values in one file, each YAML alias counted as expanded     5,000,000
``max_alias_nodes``    values YAML aliases add beyond the file's own (alias bombs) 1,000,000
``max_ref_depth``      schema ``$ref``s followed inside one another (chains too)   64
``max_example_nodes``  values in one ``example``/``default``/``enum`` (larger:     10,000
                       dropped with an ``oversized_value`` warning)
=====================  ==========================================================  ==============

Each is configurable: ``SpecBudgets(max_depth=256)`` passed to ``ingest(..., budgets=...)``, or the
environment variable ``CALLFORGE_SPEC_<NAME>`` (``CALLFORGE_SPEC_MAX_DEPTH=256``), which the CLI
and the sandbox's child process read too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from typing import Any

from schemas.errors import ConfigError, SpecError
from schemas.openapi.pointers import join

ENV_PREFIX = "CALLFORGE_SPEC_"


@dataclass(frozen=True)
class SpecBudgets:
    """Limits on one spec; see the module docstring for what each bounds and why its default."""

    max_file_bytes: int = 64 * 1024 * 1024
    max_depth: int = 128
    max_nodes: int = 5_000_000
    max_alias_nodes: int = 1_000_000
    max_ref_depth: int = 64
    max_example_nodes: int = 10_000

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"spec budget {f.name}: expected a positive integer, got {value!r}")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> SpecBudgets:
        """The defaults, overridden by ``CALLFORGE_SPEC_<NAME>`` environment variables."""
        env = os.environ if environ is None else environ
        changes: dict[str, int] = {}
        for f in fields(cls):
            key = ENV_PREFIX + f.name.upper()
            if key in env:
                try:
                    changes[f.name] = int(env[key])
                except ValueError:
                    raise ConfigError(f"{key}: expected an integer, got {env[key]!r}") from None
        return replace(cls(), **changes)


def budgets_or_env(budgets: SpecBudgets | None) -> SpecBudgets:
    return budgets if budgets is not None else SpecBudgets.from_env()


def measure_tree(tree: Any, file: str, budgets: SpecBudgets) -> None:
    """Refuse a parsed document that is too deep, too big or cyclic (raises SpecError).

    YAML anchors make a document a graph: each alias is the same Python object, so the walk
    memoises sizes by identity and counts what a consumer walking the tree would see, without
    walking it (an alias bomb of 9 levels x 9 aliases is ~400 M values but ~100 objects here).
    The walk is iterative: depth costs no Python stack.
    """

    if not _is_container(tree):
        return
    sizes: dict[int, int] = {}  # values under a container, aliases expanded
    path: list[str] = []  # tokens from the root to the node being visited
    on_path: set[int] = set()
    stack: list[tuple[Any, str, bool]] = [(tree, "", False)]  # (node, its token, children done?)
    own = 1  # values with every shared container counted once: the root, then each one's members
    while stack:
        node, token, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            path.pop()
            sizes[key] = 1 + sum(sizes[id(c)] if _is_container(c) else 1 for c in _values(node))
            continue
        if key in sizes:
            continue
        if key in on_path:
            pointer = join("", *path[1:], token) if path else "/"
            raise SpecError(
                file, pointer, "a YAML alias refers to a node that contains it (a cyclic document)"
            )
        on_path.add(key)
        path.append(token)
        if len(path) > budgets.max_depth:
            raise SpecError(
                file,
                join("", *path[1:]),
                f"nested more than {budgets.max_depth} levels deep (budget max_depth; "
                f"raise it with {ENV_PREFIX}MAX_DEPTH if the spec is genuine)",
            )
        own += len(node)
        stack.append((node, token, True))
        items = node.items() if type(node) is dict else enumerate(node)
        stack.extend((v, str(k), False) for k, v in items if _is_container(v) and id(v) not in sizes)
    total = sizes.get(id(tree), 1)
    if total - own > budgets.max_alias_nodes:
        raise SpecError(
            file,
            _fan_out(tree, sizes),
            f"YAML aliases expand the document by {total - own:,} values, over the max_alias_nodes budget "
            f"of {budgets.max_alias_nodes:,} (an alias bomb?)",
        )
    if total > budgets.max_nodes:
        raise SpecError(
            file,
            _fan_out(tree, sizes),
            f"{total:,} values (aliases expanded), over the max_nodes budget of {budgets.max_nodes:,}",
        )


def _is_container(value: Any) -> bool:
    return type(value) is dict or type(value) is list


def _values(node: Any) -> Any:
    return node.values() if type(node) is dict else node


def _fan_out(tree: Any, sizes: dict[int, int]) -> str:
    """The pointer of the node where the size explodes: follow the biggest child while it holds most."""

    node, pointer = tree, ""
    while _is_container(node):
        items = node.items() if type(node) is dict else enumerate(node)
        best = max(
            ((k, v) for k, v in items if _is_container(v)), key=lambda kv: sizes[id(kv[1])], default=None
        )
        if best is None or sizes[id(best[1])] * 3 < sizes[id(node)]:
            break
        pointer = join(pointer, best[0])
        node = best[1]
    return pointer or "/"


def count_values(value: Any, limit: int) -> int:
    """Values in a plain JSON-ish ``value``, counting stops once past ``limit`` (cheap on huge ones)."""
    count = 0
    stack = [value]
    while stack:
        node = stack.pop()
        count += 1
        if count > limit:
            return count
        if type(node) is dict:
            stack.extend(node.values())
        elif type(node) is list:
            stack.extend(node)
    return count
