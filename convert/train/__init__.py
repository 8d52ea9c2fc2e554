"""LoRA training for notifclf (needs the [train] extra: torch, transformers, peft).

``python -m convert.train --data ../shared/data/notifai/train.jsonl --out models/qwen2.5-coder-0.5b-notifclf-lora``

Modules: ``data`` (load, dev split, augmentation, tokenized examples; no torch), ``model`` (base + LoRA),
``loop`` (training loop, checkpoints, resume), ``quick_eval`` (grammar-constrained dev metrics in torch).
"""
