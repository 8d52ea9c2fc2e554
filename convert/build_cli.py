"""``python -m convert build``: merge a LoRA adapter into a base, write GGUF, quantize."""

from __future__ import annotations

import argparse
import json

from .quantize import QUANT_TYPES


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser(
        "build",
        help="merge a PEFT LoRA adapter into a base model and write a quantized GGUF",
        description="Merge a PEFT LoRA adapter into a base model (GGUF file, HF safetensors directory or "
        "HF repo id), write a GGUF, quantize it with llama.cpp, and write <out>.manifest.json beside it.",
    )
    p.add_argument("--base", required=True, help="GGUF file, local Hugging Face model directory, or HF repo id")
    p.add_argument("--adapter", required=True, help="PEFT LoRA adapter directory (adapter_config.json + adapter_model.safetensors)")
    p.add_argument("--out", required=True, help="output .gguf file")
    p.add_argument("--quant", default="Q4_K_M", type=str.upper, choices=list(QUANT_TYPES), help="output type (default Q4_K_M)")
    p.add_argument("--intermediate", default="f32", choices=["f32", "f16"], help="float type of the merged file before quantizing")
    p.add_argument("--tensor-types", choices=["auto", "base", "llama"], default="auto",
                   help="per-tensor quant types: 'base' keeps a quantized GGUF base's layout, 'llama' uses llama.cpp's "
                   "mix, 'auto' (default) keeps the base's when it is a GGUF of the same quant type")
    p.add_argument("--requantize-all", action="store_true",
                   help="with a kept base layout, also dequantize and re-quantize the tensors the adapter does not change")
    p.add_argument("--tensor-type", action="append", default=[], metavar="NAME=TYPE",
                   help="pin one tensor's type on top of the mix, e.g. output.weight=Q8_0 (repeatable)")
    p.add_argument("--threads", type=int, default=None, help="quantizer threads (default: all cores)")
    p.set_defaults(func=run)


def _pairs(items: list[str]) -> dict[str, str]:
    from .errors import ConvertError

    bad = [item for item in items if item.count("=") != 1 or not all(item.split("="))]
    if bad:
        raise ConvertError(f"--tensor-type expects NAME=TYPE, got {bad[0]!r}")
    return dict(item.split("=") for item in items)


def run(args: argparse.Namespace) -> int:
    from .build import build_model
    from .manifest import manifest_path

    out = build_model(args.base, args.adapter, args.out, args.quant, progress=not args.quiet,
                      intermediate=args.intermediate, threads=args.threads,
                      keep_base_types={"auto": None, "base": True, "llama": False}[args.tensor_types],
                      copy_unchanged=not args.requantize_all, tensor_type_overrides=_pairs(args.tensor_type))
    m = json.loads(manifest_path(out).read_text(encoding="utf-8"))
    print(f"{out}  {m['quant']}  {m['size']} bytes  sha256 {m['sha256']}")
    print(f"manifest: {manifest_path(out)}")
    return 0
