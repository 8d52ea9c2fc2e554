"""Train the folder reader: a LoRA adapter for all-MiniLM-L6-v2 that matches notifications to folder descriptions.

The runtime's ``folder_prior="reader"`` adds ``weight * cos(notification, "name: description")`` from this encoder
to the language model's folder log-probabilities (``notifclf.embedding.folder_prior``). Zero-shot MiniLM already
reads unseen folder sets better than the fine-tuned 0.5B model; this trains it on the same folder sets the model
trains on (``BatchSampler.episode``: taxonomy sets, the defaults, mixed sets; held-out categories and dev rows never
drawn), which costs about a thousandth of the language model's compute per example.

One step: ``--episodes`` folder sets with up to ``--rows`` labelled rows each; every text (folders and
notifications, the same strings the runtime encodes) goes through the encoder once, mean-pooled and normalised as
sentence-transformers does; the loss is the cross-entropy of ``--scale * cos`` over each episode's folders, so the
reader's scores are log-probabilities at the runtime's prior weight. Saved in the format of
``notifclf.embedding.lora`` (float16), with ``training.json`` beside it.

    python -m convert.train.reader [--out models/minilm-notifclf-reader-lora] [--steps 3000] [--minutes M]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import Counter
from pathlib import Path

from notifclf.embedding.folder_prior import folder_text, notification_text
from notifclf.embedding.lora import CONFIG_FILE, FORMAT, WEIGHTS_FILE
from notifclf.files import sha256_file

from .batches import BatchSampler
from .generator import generate_rows
from .holdout import HELD_OUT_CATEGORIES
from .rows import DEFAULT_DATA, ids_hash, load_rows, notification_of, split_rows
from .taxonomy import load_taxonomy

DEFAULT_OUT = Path(__file__).resolve().parents[2] / "models" / "minilm-notifclf-reader-lora"
TARGETS = ("query", "key", "value", "dense")  # every linear layer of a BERT layer (pooler excluded)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(DEFAULT_DATA))
    p.add_argument("--encoder", default=None, help="sentence-transformers directory (default: the PyPI package's)")
    p.add_argument("--out", default=str(DEFAULT_OUT))
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--minutes", type=float, default=0.0, help="stop after this many minutes of training (0: none)")
    p.add_argument("--episodes", type=int, default=4, help="folder sets per step")
    p.add_argument("--rows", type=int, default=8, help="labelled rows per folder set")
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--rank", type=int, default=16)
    p.add_argument("--alpha", type=float, default=32.0)
    p.add_argument("--scale", type=float, default=20.0, help="logit scale: the runtime's prior weight")
    p.add_argument("--sibling-sets", type=float, default=0.0,
                   help="share of taxonomy folder sets with a folder for each of 2-4 categories of one group")
    p.add_argument("--init-adapter", default=None, help="start from this reader adapter (a warm start)")
    p.add_argument("--catch-all-sets", type=float, default=0.4, help="share of taxonomy folder sets with a catch-all")
    p.add_argument("--catch-all", type=float, default=None, metavar="COS",
                   help="read catch-all folders as a threshold learnt in training, starting at COS (a warm start "
                        "from an adapter that has one continues from it); saved with the bar that tells them apart")
    p.add_argument("--generated", type=int, default=40, help="as convert.train: generated rows for thin categories")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--log-every", type=int, default=50)
    return p.parse_args(argv)


Span = tuple[slice, slice, list[int], list[int]]  # folders, notifications, gold folder each, catch-all folders


def episodes_texts(sampler: BatchSampler, step: int, episodes: int, rows: int) -> tuple[list[str], list[Span]]:
    """The texts of one step (folder texts and notification texts, episode after episode) and, per episode, where
    its folders and its notifications are in that list, each notification's gold folder index and the indexes of
    the episode's catch-all folders."""
    texts: list[str] = []
    spans = []
    for e in range(episodes):
        folders, labelled, catch_alls = sampler.episode(step * episodes + e, rows)
        index = {f.name: i for i, f in enumerate(folders)}
        f0 = len(texts)
        texts += [folder_text(f) for f in folders]
        n0 = len(texts)
        texts += [notification_text(notification_of(row)) for row, _ in labelled]
        spans.append((slice(f0, n0), slice(n0, len(texts)), [index[f] for _, f in labelled],
                      sorted(index[name] for name in catch_alls)))
    return texts, spans


def pooled(model, encoded):
    """Mean-pooled, normalised embeddings of the encoded texts (sentence-transformers')."""
    import torch

    hidden = model(**encoded).last_hidden_state
    mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    return torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9), dim=-1)


def episodes_loss(model, encoded, spans: list[Span], scale: float, catch_all_cos=None):
    """Mean cross-entropy of ``scale * cos`` over each episode's folders, with the number right and the number of
    notifications: every text encoded once (:func:`pooled`). With ``catch_all_cos`` (a scalar tensor), a catch-all
    folder's column is that threshold instead of its cosine (``notifclf.embedding.folder_prior.CatchAllReading``)."""
    import torch

    emb = pooled(model, encoded)
    losses, right, n = [], 0, 0
    for folders, notes, gold, catch_alls in spans:
        cos = emb[notes] @ emb[folders].T
        if catch_all_cos is not None and catch_alls:
            rest = torch.zeros(cos.shape[1], dtype=torch.bool)
            rest[catch_alls] = True
            cos = torch.where(rest, catch_all_cos.to(cos.dtype), cos)
        logits = scale * cos
        target = torch.tensor(gold)
        losses.append(torch.nn.functional.cross_entropy(logits, target, reduction="sum"))
        right += int((logits.argmax(-1) == target).sum())
        n += len(gold)
    return torch.stack(losses).sum() / max(1, n), right, n


def catch_all_bar(model, tok, sampler: BatchSampler, max_length: int, episodes: int = 300,
                  margin: float = 0.05) -> dict:
    """Where the runtime draws the line between a catch-all folder and any other (cosine to the nearest of
    ``CATCH_ALL_EXAMPLES``): ``margin`` above the most alike of the other folders training draws, since a folder
    taken for a catch-all loses everything its description says. Also reported: how alike the examples are to each
    other (each left out in turn, a stand-in for a user's own wording; the English-only encoder does not see the
    Chinese one as alike)."""
    import torch

    from notifclf.folders import CATCH_ALL_EXAMPLES, Folder

    drawn = {f for step in range(episodes) for f in sampler.episode(10**6 + step, 2)[0]}
    others = sorted(folder_text(f) for f in drawn if (f.name, f.description) not in CATCH_ALL_EXAMPLES)
    examples = [folder_text(Folder(*f)) for f in CATCH_ALL_EXAMPLES]
    texts = examples + others
    with torch.no_grad():
        emb = torch.cat([pooled(model, tok(texts[i: i + 64], padding=True, truncation=True, max_length=max_length,
                                           return_tensors="pt")) for i in range(0, len(texts), 64)])
    ex, rest = emb[: len(examples)], emb[len(examples):]
    among = ex @ ex.T
    among.fill_diagonal_(-2.0)
    least_alike = float(among.max(dim=1).values.min())
    most_alike_other = float((rest @ ex.T).max())
    return {"bar": round(most_alike_other + margin, 4), "examples_least_alike": round(least_alike, 4),
            "others_most_alike": round(most_alike_other, 4), "others": len(others)}


def save_adapter(model, out: Path, rank: int, alpha: float, base_file: Path, catch_all: dict | None = None) -> None:
    """The LoRA weights of a peft-wrapped encoder in the runtime's format (``notifclf.embedding.lora``), float16;
    ``catch_all`` (``{"cos", "bar", ...}``) goes into its config for ``CatchAllReading``."""
    import torch
    from safetensors.torch import save_file

    tensors = {}
    for key, value in model.state_dict().items():  # base_model.model.<name>.lora_A.default.weight -> <name>.lora_A
        if ".lora_A." in key or ".lora_B." in key:
            name = key.removeprefix("base_model.model.").removesuffix(".default.weight")
            tensors[name] = value.detach().to(torch.float16).contiguous()
    save_file(tensors, str(out / WEIGHTS_FILE))
    config = {"format": FORMAT, "rank": rank, "alpha": alpha, "target_modules": list(TARGETS),
              "base": "all-MiniLM-L6-v2", "base_sha256": sha256_file(base_file)}
    if catch_all is not None:
        config["catch_all"] = catch_all
    (out / CONFIG_FILE).write_text(json.dumps(config, indent=1) + "\n")


def load_adapter(model, adapter_dir: Path, rank: int, alpha: float) -> dict:
    """Copy a saved reader adapter (:func:`save_adapter`'s format) into a peft-wrapped encoder of the same rank;
    returns its config."""
    import torch

    from notifclf.embedding.lora import read_adapter_config
    from notifclf.embedding.tensorfile import read_safetensors

    config = read_adapter_config(adapter_dir)
    if config["rank"] != rank or float(config["alpha"]) != alpha:
        raise ValueError(f"{adapter_dir} has rank {config['rank']}, alpha {config['alpha']}: not {rank}, {alpha}")
    saved = read_safetensors(adapter_dir / WEIGHTS_FILE)
    params = dict(model.named_parameters())
    for name, value in saved.items():
        key = f"base_model.model.{name}.default.weight"
        with torch.no_grad():
            params[key].copy_(torch.from_numpy(value.astype("float32")))
    if len(saved) != sum(1 for k in params if ".lora_" in k):
        raise ValueError(f"{adapter_dir} does not hold every LoRA weight of this model")
    return config


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModel, AutoTokenizer

    from notifclf.embedding.files import packaged_model_dir

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    encoder_dir = Path(args.encoder) if args.encoder else packaged_model_dir()
    max_length = json.loads((encoder_dir / "sentence_bert_config.json").read_text())["max_seq_length"]
    rows = load_rows(args.data)
    train_rows, _dev = split_rows(rows)
    taxonomy = load_taxonomy()
    generated = (generate_rows(taxonomy, Counter(taxonomy.category_of(r) for r in train_rows), args.generated,
                               args.seed) if args.generated else [])
    sampler = BatchSampler(train_rows + generated, None, taxonomy, seed=args.seed, preferences_rate=0.0,
                           examples_rate=0.0, sibling_sets=args.sibling_sets, catch_all_sets=args.catch_all_sets)
    tok = AutoTokenizer.from_pretrained(str(encoder_dir))
    model = AutoModel.from_pretrained(str(encoder_dir), add_pooling_layer=False)
    model = get_peft_model(model, LoraConfig(r=args.rank, lora_alpha=args.alpha, lora_dropout=0.0,
                                             target_modules=list(TARGETS)))
    started_from, start_config = None, {}
    if args.init_adapter:
        start = Path(args.init_adapter)
        start_config = load_adapter(model, start, args.rank, args.alpha)
        before = json.loads((start / "training.json").read_text()) if (start / "training.json").is_file() else {}
        started_from = {"adapter": str(start), "weights_sha256": sha256_file(start / WEIGHTS_FILE),
                        "notifications_seen": before.get("notifications_seen"),
                        "initialized_from": before.get("initialized_from")}
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": params, "lr_scale": 1.0}]
    catch_all_cos = None
    if args.catch_all is not None:
        catch_all_cos = torch.nn.Parameter(torch.tensor(float(start_config.get("catch_all", {}).get("cos",
                                                                                                  args.catch_all))))
        groups.append({"params": [catch_all_cos], "lr_scale": 10.0})  # one number: a larger step than the weights
    opt = torch.optim.AdamW(groups, lr=args.lr, weight_decay=0.0)

    def lr_at(step: int) -> float:
        if step < args.warmup:
            return args.lr * (step + 1) / args.warmup
        return args.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, (step - args.warmup) / max(1, args.steps - args.warmup))))

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0, history, ema, acc_ema = time.time(), [], None, None
    steps_done = seen = 0
    model.train()
    for step in range(args.steps):
        if args.minutes and time.time() - t0 > 60 * args.minutes:
            break
        texts, spans = episodes_texts(sampler, step, args.episodes, args.rows)
        loss, right, n = episodes_loss(model, tok(texts, padding=True, truncation=True, max_length=max_length,
                                                  return_tensors="pt"), spans, args.scale, catch_all_cos)
        for group in opt.param_groups:
            group["lr"] = lr_at(step) * group["lr_scale"]
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        steps_done, seen = steps_done + 1, seen + n
        value = loss.item()
        ema = value if ema is None else 0.98 * ema + 0.02 * value
        acc_ema = right / n if acc_ema is None else 0.98 * acc_ema + 0.02 * right / n
        if (step + 1) % args.log_every == 0:
            entry = {"step": step + 1, "loss_ema": round(ema, 4), "acc_ema": round(acc_ema, 4),
                     "lr": round(lr_at(step), 7), "s_per_step": round((time.time() - t0) / (step + 1), 3)}
            if catch_all_cos is not None:
                entry["catch_all_cos"] = round(float(catch_all_cos), 4)
            history.append(entry)
            print(json.dumps(entry), flush=True)
    catch_all = None
    if catch_all_cos is not None:
        model.eval()
        catch_all = {"cos": round(float(catch_all_cos), 4), **catch_all_bar(model, tok, sampler, max_length)}
    save_adapter(model, out, args.rank, args.alpha, encoder_dir / "model.safetensors", catch_all)
    train_seconds = time.time() - t0
    report = {
        "what": __doc__.split("\n\n")[0], "config": {k: v for k, v in vars(args).items() if k != "out"},
        "data_sha256": sha256_file(args.data), "train_ids_sha256": ids_hash(r["id"] for r in train_rows),
        "held_out_categories": sorted(HELD_OUT_CATEGORIES), "generated_rows": len(generated),
        "trainable_rows": len(sampler.rows), "steps": steps_done,
        "notifications_seen": seen, "train_seconds": round(train_seconds, 1),
        "s_per_step": round(train_seconds / max(1, steps_done), 3), "torch": torch.__version__,
        "threads": args.threads, "final_loss_ema": ema, "history": history, "catch_all": catch_all,
        "updated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if args.init_adapter:
        report["initialized_from"] = started_from
    (out / "training.json").write_text(json.dumps(report, indent=1) + "\n")
    print(f"saved {out} after {steps_done} steps in {train_seconds / 60:.1f} min", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
