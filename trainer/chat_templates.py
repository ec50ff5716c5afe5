"""Which chat template training renders records with, so the loss covers the assistant's turns only.

``assistant_only_loss`` needs a template with ``{% generation %}`` markers. Base models rarely ship one,
so ``training_template(tokenizer)`` picks, in order:

1. the tokenizer's own template, when it already has the markers (the tiny model's does);
2. a template packaged in ``trainer/templates/`` for a known original (Llama 3.1 and 3.2, whose
   training variants TRL lacks);
3. TRL's training variant of a known original (Qwen2.5, Qwen3, Llama 3, Gemma, Phi, …).

Otherwise it raises ``ConfigError`` saying how to proceed. The rendering of the variants is the
original's, so a model trained with one prompts the same way at inference with its own template.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from schemas.errors import ConfigError

TEMPLATES_DIR = Path(__file__).parent / "templates"
_GENERATION = re.compile(r"\{%-?\s*generation\s*-?%\}")

# Our training variants, keyed by the file name of the original in trl/chat_templates/.
_PACKAGED = {
    "llama3_1.jinja": "llama3_1_training.jinja",
    "llama3_2.jinja": "llama3_2_training.jinja",  # Llama 3.2 1B / 3B Instruct (the APIGen-FC seed)
}


def has_generation_markers(template: str | None) -> bool:
    return template is not None and _GENERATION.search(template) is not None


def packaged_template(name: str) -> str:
    """The text of ``trainer/templates/<name>``."""
    return (TEMPLATES_DIR / name).read_text(encoding="utf-8")


def _trl_original(name: str) -> str:
    import trl

    return (Path(trl.__file__).parent / "chat_templates" / name).read_text(encoding="utf-8")


def _template_text(tokenizer: Any) -> str | None:
    template = getattr(tokenizer, "chat_template", None)
    if isinstance(template, dict):  # templates shipped as named variants
        template = template.get("default")
    return template


def training_template(tokenizer: Any) -> str:
    """A template with ``{% generation %}`` markers that renders like the tokenizer's own.

    Raises ``ConfigError`` when the tokenizer has no template or one nobody has a training variant of.
    """
    current = _template_text(tokenizer)
    if not current:
        raise ConfigError(
            "the tokenizer has no chat template; records with messages and tools cannot be rendered — "
            "use an instruct/chat model, or set sft.chat_template_path to a .jinja file"
        )
    if has_generation_markers(current):
        return current
    for original, variant in _PACKAGED.items():
        if current == _trl_original(original):
            return packaged_template(variant)
    from trl.chat_template_utils import get_training_chat_template

    try:
        patched = get_training_chat_template(tokenizer)
    except ValueError:
        patched = None
    if patched is None or not has_generation_markers(patched):
        raise ConfigError(
            "the base model's chat template has no {% generation %} markers and no known training variant, "
            "so the loss cannot be limited to the assistant's turns — set sft.chat_template_path to a copy "
            "of the template with {% generation %}...{% endgeneration %} around assistant output, "
            "or set sft.assistant_only_loss: false to train on whole conversations"
        )
    return patched
