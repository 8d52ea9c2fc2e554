"""LoRA training for notifclf (needs the [train] extra: torch, transformers, peft).

``python -m convert.train --data ../shared/data/notifai/train.jsonl --out models/qwen2.5-coder-0.5b-notifclf-lora``

Data, no torch: ``rows`` (train.jsonl, dev split, majority priorities), ``taxonomy`` (categories and the app table),
``generator`` (rows for thin categories), ``holdout`` (what training never sees), ``folder_sets``, ``preferences``,
``injection`` and ``batches`` (scenarios, labelled rows, tokenized examples).
Torch: ``model`` (base + LoRA), ``loop`` (training loop, checkpoints, resume), ``quick_eval`` (grammar-constrained dev
metrics) and ``__main__`` (the command).
"""
