"""Render a model's own chat template (from its GGUF metadata) into the pieces notifclf tokenizes separately."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from functools import lru_cache

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from .errors import NotifclfError

# Used when a GGUF carries no template: ChatML, the format of the Qwen family.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

# Gemma's turn format, for Gemma GGUFs that carry no template (the base 270M does not): no system role, so the
# system text opens the first user turn.
GEMMA_TEMPLATE = (
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{% set first = messages[0]['content'] + '\\n\\n' %}"
    "{% set msgs = messages[1:] %}{% else %}{% set first = '' %}{% set msgs = messages %}{% endif %}"
    "{% for m in msgs %}{{ '<start_of_turn>' + ('model' if m['role'] == 'assistant' else m['role']) + '\\n' }}"
    "{% if loop.first %}{{ first }}{% endif %}{{ m['content'] + '<end_of_turn>\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<start_of_turn>model\\n' }}{% endif %}"
)

FALLBACK_TEMPLATES = {"chatml": CHATML_TEMPLATE, "gemma": GEMMA_TEMPLATE}


def fallback_template(architecture: str) -> str:
    """The turn format to use for a model of ``architecture`` (GGUF ``general.architecture``) without a template."""
    return GEMMA_TEMPLATE if architecture.startswith("gemma") else CHATML_TEMPLATE

# Stands in for the user's text while rendering; never appears in real prompts.
_SENTINEL = "\x00NOTIFCLF_USER_CONTENT\x00"


@dataclass(frozen=True)
class PromptPieces:
    """A rendered chat prompt cut around the user's content.

    ``prefix`` and ``suffix`` are template text (special tokens are parsed in them); ``user`` is data
    (special tokens are never parsed in it). ``prefix`` depends only on the system prompt, so its KV state
    can be computed once per folder set. ``hint`` (data as well: the user's rules and sorted notifications that
    may bear on this one) follows ``user`` in the same turn; it is kept apart so that cutting a long notification
    never cuts it (:mod:`notifclf.preference_hints`, :mod:`notifclf.example_hints`).
    """

    prefix: str
    user: str
    suffix: str
    hint: str = ""

    @property
    def text(self) -> str:
        return self.prefix + self.user + self.hint + self.suffix


def _raise(message: str) -> None:
    raise jinja2.exceptions.TemplateError(message)


@lru_cache(maxsize=16)
def _compile(template: str) -> jinja2.Template:
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, loader=jinja2.BaseLoader())
    env.globals["raise_exception"] = _raise
    env.globals["strftime_now"] = lambda fmt: _dt.datetime.now().strftime(fmt)
    return env.from_string(template)


def render_pieces(template: str | None, system: str, user: str, *, bos_token: str = "", eos_token: str = "") -> PromptPieces:
    """Render ``[system, user]`` with the generation prompt, thinking switched off (Qwen3), and cut it.

    Templates without a system role (Gemma) fold the system text into the user turn; that still lands in
    ``prefix`` because it comes before the user's content.
    """
    try:
        rendered = _compile(template or CHATML_TEMPLATE).render(
            messages=[{"role": "system", "content": system}, {"role": "user", "content": _SENTINEL}],
            add_generation_prompt=True,
            enable_thinking=False,
            bos_token=bos_token,
            eos_token=eos_token,
        )
    except jinja2.exceptions.TemplateError as exc:
        raise NotifclfError(f"the model's chat template failed to render: {exc}") from exc
    if rendered.count(_SENTINEL) != 1:
        raise NotifclfError("the model's chat template does not place the user message exactly once")
    prefix, suffix = rendered.split(_SENTINEL)
    if bos_token and prefix.startswith(bos_token):
        prefix = prefix[len(bos_token):]  # the tokenizer adds BOS itself
    if template and "<think>" in template and "</think>" not in suffix:
        # A thinking template that ignored enable_thinking: close the think block so the answer starts at once.
        suffix += "\n</think>\n\n" if suffix.rstrip().endswith("<think>") else "<think>\n\n</think>\n\n"
    return PromptPieces(prefix=prefix, user=user, suffix=suffix)
