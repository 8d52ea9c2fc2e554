"""python -m convert.train --data train.jsonl --out models/qwen2.5-coder-0.5b-notifclf-lora [--resume]

Trains a LoRA adapter on the notifclf prompt format, checkpointing to --run-dir (default runs/<out name>) and
refreshing the adapter in --out at every checkpoint; --resume continues from the last checkpoint. Uses a CUDA
GPU when one is present, else the CPU.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import platform
import sys
import time
from collections import Counter
from pathlib import Path

from ..hashing import sha256_file, sha256_files


def _parse_deadline(text: str | None) -> float | None:
    """'HH:MM' (UTC, today) or '+MINUTES'."""
    if not text:
        return None
    if text.startswith("+"):
        return time.time() + float(text[1:]) * 60
    now = dt.datetime.now(dt.timezone.utc)
    h, m = map(int, text.split(":"))
    when = now.replace(hour=h, minute=m, second=0, microsecond=0)
    if when < now:
        when += dt.timedelta(days=1)
    return when.timestamp()


def build_parser() -> argparse.ArgumentParser:
    from .model import DEFAULT_BASE_GGUF
    from .rows import DEFAULT_DATA, DEFAULT_SEED_EMERGENT

    p = argparse.ArgumentParser(prog="python -m convert.train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(DEFAULT_DATA), help="train.jsonl (id, app_name, title, body, folder, priority)")
    p.add_argument("--seed-emergent", default=str(DEFAULT_SEED_EMERGENT), help="seed_emergent.json for the eval ('' to skip)")
    p.add_argument("--out", default="models/qwen2.5-coder-0.5b-notifclf-lora", help="adapter directory to write")
    p.add_argument("--base", default=DEFAULT_BASE_GGUF, help="base model: a .gguf file or a HF model directory")
    p.add_argument("--run-dir", default=None, help="checkpoints (default runs/<out name>)")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint in --run-dir")
    p.add_argument("--init-adapter", default=None,
                   help="start from this trained adapter (a warm start: fresh optimizer and schedule; its rank wins "
                        "over --rank); recorded in training.json as initialized_from")
    p.add_argument("--max-steps", type=int, default=1000)
    p.add_argument("--batch-size", type=int, default=8, help="examples per step (they share one folder set)")
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--rank", type=int, default=16)
    p.add_argument("--alpha", type=int, default=32)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--targets", default="q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj")
    p.add_argument("--layers", default="", help="layer indices for LoRA, e.g. '12-23' (default all)")
    p.add_argument("--ckpt-every", type=int, default=25)
    p.add_argument("--log-every", type=int, default=5)
    p.add_argument("--snapshot-every", type=int, default=0,
                   help="keep the adapter of every N steps (a multiple of --ckpt-every) in <run-dir>/snapshots/")
    p.add_argument("--deadline", default=None, help="stop cleanly at HH:MM UTC or after +MINUTES")
    p.add_argument("--schedule-minutes", type=float, default=None,
                   help="run the cosine over this many minutes of training (from this run's first step) and stop "
                        "when they are spent, or at --max-steps if sooner: for a machine lent for a fixed time")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--eval-n", type=int, default=200, help="dev rows for the final eval (0 skips it)")
    p.add_argument("--eval-only", action="store_true", help="evaluate --out (or the base if --out has none) and exit")
    p.add_argument("--eval-suites", default="default,seed", help="comma list of eval suites (default, seed)")
    p.add_argument("--eval-exact", action="store_true", help="run the model at every grammar step (slower)")
    p.add_argument("--eval-adapter", default=None, help="with --eval-only: adapter dir to evaluate (default --out)")
    p.add_argument("--measure", type=int, default=0, help="time N steps with and without the speed tricks, then exit")
    p.add_argument("--no-prefix-cache", action="store_true", help="(slow reference) run the prefix with gradients")
    p.add_argument("--full-logits", action="store_true", help="(slow reference) lm_head at every position")
    p.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16"],
                   help="base weights dtype (auto: bfloat16 on CUDA or a CPU with avx512_bf16/AMX, else float32); "
                        "the LoRA weights stay float32")
    p.add_argument("--measure-modes", default="all", help="'all' or 'fast' (only the prefix-cache + answer-logits path)")
    p.add_argument("--generated", type=int, default=40,
                   help="generate rows until each templated thin category has this many (0: none)")
    p.add_argument("--no-majority", action="store_true",
                   help="train on each row's own priority instead of its near-duplicate group's majority")
    p.add_argument("--folder-codes", action="store_true",
                   help="list folders as letter codes (A, B, ...) and train the code as the answer (an experiment)")
    p.add_argument("--random-codes", action="store_true",
                   help="with --folder-codes: half of the batches code their folders with random letters in "
                        "alphabetical order (A, D, K...) instead of A, B, C..., so every letter is trained")
    p.add_argument("--repeat-codes", action="store_true",
                   help="with --folder-codes: show each folder's code again after its description "
                        "(model files built from it say folder_labels = codes-repeated)")
    p.add_argument("--near-misses", action="store_true",
                   help="with preferences or a convention, also train on rows like a rule's that it does not decide")
    p.add_argument("--near-miss-rate", type=float, default=0.3,
                   help="with --near-misses: chance that a row not drawn from a rule's own rows is a near miss")
    p.add_argument("--hint-miss-rate", type=float, default=0.0,
                   help="in batches that state preferences: chance that a row shares a word with a stated rule it "
                        "does not decide (the hint matcher's false positives), so a listed rule is also rejected")
    p.add_argument("--conventions-per-batch", default="1",
                   help="comma list the number of unstated conventions in a batch showing one is drawn from")
    p.add_argument("--corrections-only", type=float, default=0.0,
                   help="share of batches with a convention whose worked examples are only the conventions' own "
                        "(as in a user's store of corrections)")
    p.add_argument("--shared-convention-folder", type=float, default=0.0,
                   help="share of batches with 2+ conventions whose conventions all move rows to one folder")
    p.add_argument("--sibling-sets", type=float, default=0.0,
                   help="share of taxonomy folder sets that give 2-4 categories of one group a folder each")
    p.add_argument("--scoped-conventions", type=float, default=0.0,
                   help="share of app conventions limited to the rows the defaults file under one folder (an app's "
                        "receipts, not its ads), where the app's rows span several")
    p.add_argument("--examples-rate", type=float, default=0.35,
                   help="share of batches with worked examples in the prompt (half of them show a convention)")
    p.add_argument("--preferences-rate", type=float, default=0.4,
                   help="share of batches that state preferences")
    p.add_argument("--rules-per-batch", default="1,1,2,3",
                   help="comma list the number of stated preferences per batch is drawn from, e.g. 1,2,3,4,5,6")
    p.add_argument("--rule-priorities", default="1,2,3,3",
                   help="comma list a rule's (or a convention's) priority is drawn from")
    p.add_argument("--disagreeing-rows", type=float, default=0.0,
                   help="chance that a row drawn for a priority rule is one whose own priority is the farthest from "
                        "the rule's (a rule of 1 on an urgent row)")
    p.add_argument("--preference-hints", action="store_true",
                   help="end each row's user turn with the preferences that share a word with it, as the runtime "
                        "does for model files built from it (notifclf.preference_hints)")
    p.add_argument("--example-hints", action="store_true",
                   help="end each row's user turn with the worked examples most like it, as the runtime does for "
                        "model files built from it (notifclf.example_hints)")
    p.add_argument("--inject-rate", type=float, default=0.12,
                   help="share of examples with a planted prompt injection (label unchanged)")
    return p


def _initialized_from(adapter_dir: str) -> dict:
    """What a warm start began with: the adapter's path, weights hash and the training it had had."""
    d = Path(adapter_dir)
    prior = json.loads((d / "training.json").read_text()) if (d / "training.json").exists() else {}
    return {"adapter": str(d), "weights_sha256": sha256_file(d / "adapter_model.safetensors"),
            "examples_seen": prior.get("examples_seen"), "initialized_from": prior.get("initialized_from")}


def _layers(spec: str):
    if not spec:
        return None
    out = []
    for part in spec.split(","):
        if "-" in part:
            a, b = map(int, part.split("-"))
            out += list(range(a, b + 1))
        else:
            out.append(int(part))
    return out


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    import torch

    from . import batches as B
    from .generator import generate_rows
    from .holdout import HELD_OUT_CATEGORIES
    from .loop import train
    from .model import (add_lora, base_name, bos_ids, eot_ids, load_base, load_lora, make_encoder, pick_device,
                        resolve_dtype, setup_threads)
    from .quick_eval import TokenBytes, run_suites
    from .rows import ids_hash, load_rows, split_rows
    from .taxonomy import TAXONOMY_DIR, load_taxonomy

    t_start = time.time()
    device = pick_device(args.device)
    setup_threads(device, args.threads or None)
    out_dir = Path(args.out)
    run_dir = Path(args.run_dir) if args.run_dir else Path("runs") / out_dir.name
    run_dir.mkdir(parents=True, exist_ok=True)
    log_file = open(run_dir / "train.log", "a", encoding="utf-8")

    def log(msg: str) -> None:
        line = f"[{time.strftime('%H:%M:%S', time.gmtime())}] {msg}"
        print(line, flush=True)
        log_file.write(line + "\n")
        log_file.flush()

    torch.manual_seed(args.seed)
    rows = load_rows(args.data)
    train_rows, dev_rows = split_rows(rows)
    taxonomy = load_taxonomy()
    counts = Counter(taxonomy.category_of(r) for r in train_rows)
    generated = generate_rows(taxonomy, counts, args.generated, args.seed) if args.generated else []
    dev_rows.sort(key=lambda r: hashlib.sha256(r["id"].encode()).hexdigest())
    log(f"data {args.data}: {len(rows)} rows, {len(train_rows)} train, {len(dev_rows)} dev; device {device}, "
        f"threads {torch.get_num_threads()}")

    t = time.time()
    dtype = resolve_dtype(args.dtype, device)
    model, tok, template = load_base(args.base, device, dtype)
    log(f"base loaded in {time.time() - t:.0f}s ({dtype})")
    builder = B.ExampleBuilder(template, make_encoder(tok), eot_ids(tok), bos_ids=bos_ids(tok))
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else eot_ids(tok)[0]
    seed_emergent = _load_seed_emergent(args.seed_emergent) if args.seed_emergent and Path(args.seed_emergent).exists() else None

    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    ckpt_adapter = run_dir / "ckpt" / "adapter"
    if args.eval_only:
        adapter = Path(args.eval_adapter) if args.eval_adapter else out_dir
        if (adapter / "adapter_config.json").exists():
            model = load_lora(model, adapter, trainable=False).merge_and_unload()
            log(f"evaluating adapter {adapter} (merged)")
        else:
            log("evaluating the base model (no adapter)")
        suites = [x.strip() for x in args.eval_suites.split(",") if x.strip()]
        report = run_suites(model, builder, TokenBytes(tok), dev_rows, device, args.eval_n, seed_emergent, log, suites,
                            args.eval_exact)
        (run_dir / "eval.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
        log(f"wrote {run_dir / 'eval.json'}")
        meta_path = adapter / "training.json"
        if (adapter / "adapter_config.json").exists() and meta_path.exists() and not args.eval_adapter:
            meta = json.loads(meta_path.read_text())
            report["at_step"] = meta.get("steps")
            meta["dev_metrics"] = report
            meta_path.write_text(json.dumps(meta, indent=2, ensure_ascii=False))
            log(f"dev metrics written into {meta_path}")
        return 0
    if args.resume and (ckpt_adapter / "adapter_config.json").exists():
        model = load_lora(model, ckpt_adapter, trainable=True)
        log(f"loaded adapter from {ckpt_adapter}")
    elif args.init_adapter:
        model = load_lora(model, args.init_adapter, trainable=True)
        log(f"warm start from {args.init_adapter}")
    else:
        model = add_lora(model, args.rank, args.alpha, args.dropout, targets, _layers(args.layers))
    n_train = sum(p.numel() for p in model.parameters() if p.requires_grad)
    log(f"trainable parameters: {n_train}")
    sampler = B.BatchSampler(train_rows + generated, builder, taxonomy, args.batch_size, args.seed, args.inject_rate,
                             majority_priority=not args.no_majority, folder_codes=args.folder_codes,
                             near_misses=args.near_misses, random_codes=args.random_codes,
                             repeat_codes=args.repeat_codes, near_miss_rate=args.near_miss_rate,
                             scoped_conventions=args.scoped_conventions, examples_rate=args.examples_rate,
                             preferences_rate=args.preferences_rate, preference_hints=args.preference_hints,
                             example_hints=args.example_hints, hint_miss_rate=args.hint_miss_rate,
                             conventions_per_batch=[int(n) for n in args.conventions_per_batch.split(",")],
                             corrections_only=args.corrections_only,
                             shared_convention_folder=args.shared_convention_folder,
                             sibling_sets=args.sibling_sets,
                             rules_per_batch=[int(n) for n in args.rules_per_batch.split(",")],
                             rule_priorities=[int(n) for n in args.rule_priorities.split(",")],
                             disagreeing_rows=args.disagreeing_rows)
    log(f"trainable rows {len(sampler.rows)} ({len(generated)} generated; held-out categories and dev removed); "
        f"{sampler.n_relabelled} priorities set to their near-duplicate group's majority")

    if args.measure:
        return _measure(model, sampler, device, pad_id, args.measure, log, args.measure_modes)

    config = {k: v for k, v in vars(args).items() if k not in ("resume", "eval_only", "measure")}
    meta = {
        "base_model": f"{base_name(args.base)} ({Path(args.base).name}, dequantized by transformers, run in {dtype})",
        "adapter_dtype": "LoRA weights trained in float32, stored in float16",
        "augmentation": " ".join((B.__doc__ or "").split()),
        "injection_rate": args.inject_rate,
        "held_out_categories": sorted(HELD_OUT_CATEGORIES),
        "taxonomy_sha256": sha256_files(sorted(TAXONOMY_DIR.iterdir())),
        "generated_rows": len(generated),
        "generated_per_category": dict(Counter(r["category_key"] for r in generated)),
        "priority_majority_relabelled": sampler.n_relabelled,
        "trainable_rows": len(sampler.rows),
        "base_gguf_sha256": sha256_file(args.base) if Path(args.base).is_file() else None,
        "data_file": str(args.data),
        "data_sha256": sha256_file(args.data),
        "rows": len(rows), "train_rows": len(train_rows), "dev_rows": len(dev_rows),
        "dev_split": "row is dev iff int(sha1(id).hexdigest(), 16) % 10 == 0",
        "dev_ids_sha256": ids_hash(r["id"] for r in dev_rows),
        "prompt": "notifclf.prompt.build_prompt (prefix/user/suffix tokenized separately, user without special tokens)",
        "loss": "cross-entropy on the answer tokens only: training_answer(folder, priority) + <|im_end|>",
        "config": config,
        "initialized_from": _initialized_from(args.init_adapter) if args.init_adapter else None,
        "device": str(device), "torch": torch.__version__, "machine": platform.machine(),
    }

    def write_meta(state: dict, metrics=None) -> None:
        m = dict(meta)
        m.update({"steps": state["step"], "examples_seen": state["examples"],
                  "train_seconds": round(state["train_seconds"], 1),
                  "s_per_example": round(state["train_seconds"] / max(1, state["examples"]), 3),
                  "final_loss_ema": state.get("loss_ema"), "updated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                  "history_tail": state.get("history", [])[-10:]})
        if metrics is not None:
            m["dev_metrics"] = metrics
        elif (out_dir / "training.json").exists():
            try:
                old = json.loads((out_dir / "training.json").read_text())
                if "dev_metrics" in old:
                    m["dev_metrics_previous"] = old["dev_metrics"]
            except ValueError:
                pass
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "training.json").write_text(json.dumps(m, indent=2, ensure_ascii=False))

    state = train(model, sampler, device, pad_id, run_dir=run_dir, out_dir=out_dir, max_steps=args.max_steps,
                  lr=args.lr, warmup=args.warmup, ckpt_every=args.ckpt_every, log_every=args.log_every,
                  deadline=_parse_deadline(args.deadline), resume=args.resume,
                  prefix_cache=not args.no_prefix_cache, answer_logits_only=not args.full_logits,
                  on_checkpoint=write_meta, log=log, snapshot_every=args.snapshot_every,
                  schedule_seconds=args.schedule_minutes * 60 if args.schedule_minutes else None)
    write_meta(state)
    if args.eval_n:
        suites = [x.strip() for x in args.eval_suites.split(",") if x.strip()]
        model = model.merge_and_unload()  # the adapter is saved; merged weights make decoding faster
        report = run_suites(model, builder, TokenBytes(tok), dev_rows, device, args.eval_n, seed_emergent, log, suites,
                            args.eval_exact)
        report["at_step"] = state["step"]
        (run_dir / "eval.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
        write_meta(state, report)
    log(f"done in {time.time() - t_start:.0f}s; adapter in {out_dir}")
    return 0


def _load_seed_emergent(path: str | Path) -> tuple[tuple, list[dict]]:
    from notifclf.folders import Folder

    data = json.loads(Path(path).read_text(encoding="utf-8"))
    folders = tuple(Folder(f["name"], f["description"]) for f in data["folders"])
    return folders, [dict(c, app_name=c.get("app", "")) for c in data["cases"]]


def _measure(model, sampler, device, pad_id, n: int, log, which: str = "all") -> int:
    """Seconds per example on the same batches: reference path vs prefix cache vs prefix cache + answer logits."""
    import torch

    from .loop import batch_loss

    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=0.0)
    modes = [("full (no tricks)", False, False), ("prefix cache", True, False), ("prefix cache + answer logits", True, True)]
    if which == "fast":
        modes = modes[-1:]
    batches = [sampler.batch(i) for i in range(n + 1)]
    log("mean tokens: prefix %.0f, rest %.0f" % (sum(len(b.prefix) for b in batches) / len(batches),
        sum(len(e.ids) for b in batches for e in b.examples) / sum(len(b.examples) for b in batches)))
    for name, pc, al in modes:
        tot_t, tot_cpu, tot_ex = 0.0, 0.0, 0
        for i, b in enumerate(batches):
            t = time.time()
            c = time.process_time()
            loss, _ = batch_loss(model, b, device, pad_id, pc, al)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if i > 0:  # first batch is warm-up
                tot_t += time.time() - t
                tot_cpu += time.process_time() - c
                tot_ex += len(b.examples)
        log(f"measure {name}: {tot_t / tot_ex:.3f} s/example wall, {tot_cpu / tot_ex:.3f} CPU-s/example "
            f"({torch.get_num_threads()} threads) over {tot_ex} examples (loss {loss.item():.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
