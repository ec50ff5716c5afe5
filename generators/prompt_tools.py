"""What a prompt shows of its tools: the targets in full, the others in brief, the spec's own example
and the allowed values of each target, all within a size bound.

* **Targets** (the tools the answer calls) are shown with their parameters schema, minus the body
  examples (shown once, apart). A target whose schema lists many variants (GEN NX ``SECT``: 17 row
  kinds in an ``anyOf``) shows :data:`VARIANTS_SHOWN` of them, picked by the item's seed, and names the
  others: an answer valid for a shown variant is valid for the tool.
* **Other offered tools** (distractors, and every tool of an ``irrelevance`` item) are shown by name and
  description only: the teacher must write a query that does *not* call them, which needs what they
  do, not their fields.
* **The spec's example** of each target: the arguments of the API's documented request (first
  example of each argument; a map of rows keeps its first row when the whole is long). A target the
  documentation has no example for shows its sibling's (``siblings``: GEN NX documents the create of a
  table, not its update; both write the same rows), named as such.
* **Allowed values** of each target: ``enum`` fields and fields whose only values are the spec's
  example codes (:mod:`schemas.field_values`), so the teacher uses real codes instead of guessing.

:func:`tools_section` returns the text; the caller (``generators.prompts``) keeps the whole prompt under
``MAX_PROMPT_CHARS`` by asking again with fewer variants and fewer few-shot examples.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from typing import Any

from schemas.field_values import field_values
from schemas.models import Tool

VARIANTS_SHOWN = 3  # of a long anyOf/oneOf of $ref variants; the rest are named
LONG_VARIANT_LIST = 4  # an anyOf/oneOf of more $ref branches than this is summarised
MAX_EXAMPLE_CHARS = 2_500  # a longer spec example keeps only the first row of each map
MAX_FIELDS_LISTED = 30  # allowed-value lines per target
MAX_VALUES_LISTED = 40  # values per line ("… and N more" after)


def _strip_examples(parameters: dict[str, Any]) -> dict[str, Any]:
    """``parameters`` without the ``examples`` of its top-level arguments (body examples, shown apart)."""
    properties = parameters.get("properties")
    if not isinstance(properties, dict):
        return parameters
    stripped = {
        name: {k: v for k, v in prop.items() if k != "examples"} if isinstance(prop, dict) else prop
        for name, prop in properties.items()
    }
    return {**parameters, "properties": stripped}


def _summarise_variants(parameters: dict[str, Any], keep: int, seed: int) -> tuple[dict[str, Any], list[str]]:
    """``parameters`` with every long list of ``$ref`` variants cut to ``keep`` of them (seeded), and
    unreachable ``$defs`` dropped; also the names of the variants left out."""
    defs = parameters.get("$defs")
    if not isinstance(defs, dict) or keep <= 0:
        return parameters, []
    rng = random.Random(seed)
    dropped: list[str] = []
    new_defs = dict(defs)
    for name, schema in defs.items():
        if not isinstance(schema, dict):
            continue
        for key in ("anyOf", "oneOf"):
            branches = schema.get(key)
            if not isinstance(branches, list) or len(branches) <= max(keep, LONG_VARIANT_LIST):
                continue
            if not all(isinstance(b, dict) and isinstance(b.get("$ref"), str) for b in branches):
                continue
            chosen = sorted(rng.sample(range(len(branches)), keep))
            dropped += [
                branches[i]["$ref"].rsplit("/", 1)[-1] for i in range(len(branches)) if i not in chosen
            ]
            new_defs[name] = {**schema, key: [branches[i] for i in chosen]}
    if not dropped:
        return parameters, []
    trimmed = {**parameters, "$defs": new_defs}
    reachable = _reachable(trimmed)
    trimmed["$defs"] = {k: v for k, v in new_defs.items() if k in reachable}
    return trimmed, dropped


def _reachable(parameters: dict[str, Any]) -> set[str]:
    defs = parameters.get("$defs") or {}
    seen: set[str] = set()
    stack: list[Any] = [{k: v for k, v in parameters.items() if k != "$defs"}]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                name = ref[len("#/$defs/") :]
                if name not in seen and name in defs:
                    seen.add(name)
                    stack.append(defs[name])
            stack.extend(v for v in node.values() if isinstance(v, dict | list))
        elif isinstance(node, list):
            stack.extend(v for v in node if isinstance(v, dict | list))
    return seen


def spec_example(tool: Tool) -> dict[str, Any] | None:
    """The arguments of the spec's documented request for ``tool`` (first example of each argument),
    None when it documents none. A long one keeps the first row of each id-keyed map."""
    properties = tool.parameters.get("properties")
    if not isinstance(properties, dict):
        return None
    example = {
        name: prop["examples"][0]
        for name, prop in properties.items()
        if isinstance(prop, dict) and isinstance(prop.get("examples"), list) and prop["examples"]
    }
    if not example:
        return None
    if len(_compact(example)) > MAX_EXAMPLE_CHARS:
        example = {
            name: dict(list(value.items())[:1]) if isinstance(value, dict) and value else value
            for name, value in example.items()
        }
    return example


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def allowed_values(tool: Tool) -> list[str]:
    """One line per field with allowed values (``enum``) or only example codes, for the prompt."""
    lines = []
    for entry in field_values(tool.parameters):
        if entry.allowed:
            values, kind = entry.allowed, "one of"
        elif entry.codes_only:
            values, kind = entry.examples, "codes the spec's example uses (no full list published; use these)"
        else:
            continue
        shown = ", ".join(_compact(v) if not isinstance(v, str) else v for v in values[:MAX_VALUES_LISTED])
        more = (
            f" … and {len(values) - MAX_VALUES_LISTED} more (see the schema)"
            if len(values) > MAX_VALUES_LISTED
            else ""
        )
        lines.append(f"- {entry.label}: {kind}: {shown}{more}")
        if len(lines) >= MAX_FIELDS_LISTED:
            break
    return lines


def tool_entries(
    offered: list[Tool], targets: set[str], *, variants: int, seed: int
) -> tuple[list[Any], list[str]]:
    """The ``<tools>`` JSON entries and a note per summarised target."""
    entries: list[Any] = []
    notes: list[str] = []
    for tool in offered:
        if tool.name not in targets:
            entries.append(
                {"type": "function", "function": {"name": tool.name, "description": tool.description}}
            )
            continue
        parameters, dropped = _summarise_variants(_strip_examples(tool.parameters), variants, seed)
        if dropped:
            notes.append(
                f"{tool.name} accepts {len(dropped)} more row kinds than shown ({', '.join(dropped)}); "
                "use one of the kinds shown."
            )
        entries.append(
            {
                "type": "function",
                "function": {"name": tool.name, "description": tool.description, "parameters": parameters},
            }
        )
    return entries, notes


def tools_section(
    offered: list[Tool],
    targets: list[str],
    *,
    variants: int,
    seed: int,
    spec_examples: bool = True,
    siblings: Mapping[str, Tool] | None = None,
) -> str:
    """The prompt's part about tools: the ``<tools>`` block, then each target's example and values."""
    target_set = set(targets)
    entries, notes = tool_entries(offered, target_set, variants=variants, seed=seed)
    parts = [
        "Tools offered to the model (the tools to call in full; the others by description only):",
        f"<tools>\n{json.dumps(entries, ensure_ascii=False)}\n</tools>",
    ]
    parts += notes
    seen: set[str] = set()
    for tool in offered:
        if tool.name not in target_set or tool.name in seen:
            continue
        seen.add(tool.name)
        # A tool the documentation gives no example (an update) learns from the one that writes the
        # same rows (its create), named as such.
        source = tool
        if spec_example(tool) is None and siblings and tool.name in siblings:
            source = siblings[tool.name]
        example = spec_example(source) if spec_examples else None
        if example is not None:
            whose = tool.name if source is tool else f"{source.name} (it writes the same rows as {tool.name})"
            parts.append(
                f"The API documentation's own example request for {whose} (learn its codes and "
                f"structure from it; write your own values):\n{_compact(example)}"
            )
        lines = allowed_values(source)
        if lines:
            parts.append(f"Allowed values for {tool.name} (use exactly these codes, never similar ones):")
            parts += lines
    return "\n".join(parts)
