"""The training loop: shared-prefix KV caching, answer-only logits, checkpoints and resume."""

from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path
from typing import Optional

import torch
import torch.nn.functional as F

from notifclf.files import atomic_write

from .batches import Batch
from .model import body_and_head


def _pad(seqs: list[list[int]], pad_id: int) -> torch.Tensor:
    n = max(len(s) for s in seqs)
    return torch.tensor([s + [pad_id] * (n - len(s)) for s in seqs], dtype=torch.long)


def batch_loss(model, batch: Batch, device: torch.device, pad_id: int, prefix_cache: bool = True,
               answer_logits_only: bool = True) -> tuple[torch.Tensor, dict]:
    """Mean cross-entropy over the answer tokens of a batch.

    prefix_cache: the system-prompt prefix (identical for the batch) runs once, without gradients, with the
    current adapter; its KV state is repeated over the batch and only user+suffix+answer get gradients.
    Otherwise every example runs prefix+rest in full (the slow reference path).
    answer_logits_only: the body's hidden states are projected by lm_head only at the positions that predict an
    answer token, instead of the full 151k vocabulary at every position.
    """
    body, head = body_and_head(model)
    exs = batch.examples
    B = len(exs)
    P = len(batch.prefix)
    if prefix_cache:
        with torch.no_grad():
            out = body(input_ids=torch.tensor([batch.prefix], device=device), use_cache=True)
        cache = out.past_key_values
        if B > 1:
            cache.batch_repeat_interleave(B)
        seqs = [e.ids for e in exs]
        offset = 0
        ids = _pad(seqs, pad_id).to(device)
        L = ids.shape[1]
        pos = torch.arange(P, P + L, device=device).unsqueeze(0).expand(B, L)
        # Right padding: real tokens never attend to the pads after them, so a causal mask is enough.
        hidden = body(input_ids=ids, past_key_values=cache, position_ids=pos, use_cache=True).last_hidden_state
    else:
        seqs = [batch.prefix + e.ids for e in exs]
        offset = P
        ids = _pad(seqs, pad_id).to(device)
        hidden = body(input_ids=ids, use_cache=False).last_hidden_state
    rows, cols, targets = [], [], []
    for j, e in enumerate(exs):
        n = len(e.ids) + offset
        for t in range(n - e.n_answer, n):
            rows.append(j)
            cols.append(t - 1)
            targets.append(seqs[j][t])
    rows_t = torch.tensor(rows, device=device)
    cols_t = torch.tensor(cols, device=device)
    tgt = torch.tensor(targets, device=device)
    if answer_logits_only:
        logits = head(hidden[rows_t, cols_t])
    else:
        logits = head(hidden)[rows_t, cols_t]
    loss = F.cross_entropy(logits.float(), tgt)
    with torch.no_grad():
        correct = (logits.argmax(-1) == tgt).float().mean().item()
    return loss, {"tokens": int(ids.numel()) + (P if prefix_cache else 0), "answer_tok_acc": correct}


def lr_at(step: int, base_lr: float, warmup: int, total: int, min_ratio: float = 0.1,
          time_frac: float = 0.0) -> float:
    """Linear warm-up, then a cosine down to ``min_ratio`` over the steps to ``total``, or over the time budget
    when ``time_frac`` (the share of it spent) is further along."""
    if step < warmup:
        return base_lr * (step + 1) / warmup
    frac = min(1.0, max(time_frac, (step - warmup) / max(1, total - warmup)))
    return base_lr * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * frac)))


def save_checkpoint(model, optimizer, state: dict, run_dir: Path, out_dir: Optional[Path]) -> None:
    """Atomically write run_dir/ckpt (adapter + optimizer + state) and refresh the adapter in out_dir."""
    tmp = run_dir / "ckpt.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    model.save_pretrained(str(tmp / "adapter"))
    torch.save({"optimizer": optimizer.state_dict(), "state": state}, tmp / "trainer.pt")
    (tmp / "state.json").write_text(json.dumps(state, indent=2))
    final = run_dir / "ckpt"
    old = run_dir / "ckpt.old"
    if final.exists():
        if old.exists():
            shutil.rmtree(old)
        final.rename(old)
    tmp.rename(final)
    if old.exists():
        shutil.rmtree(old)
    if out_dir is not None:
        publish_adapter(final / "adapter", out_dir)


BASE_MODEL_ID = "Qwen/Qwen2.5-Coder-0.5B-Instruct"


def publish_adapter(adapter_dir: Path, out_dir: Path, half: bool = True) -> None:
    """Copy the adapter into out_dir; ``half`` stores the LoRA weights as float16 (half the size, same results)."""
    from safetensors.torch import load_file

    out_dir.mkdir(parents=True, exist_ok=True)
    from safetensors.torch import save

    cfg = json.loads((adapter_dir / "adapter_config.json").read_text())
    cfg["base_model_name_or_path"] = BASE_MODEL_ID
    with atomic_write(out_dir / "adapter_config.json", "w") as fh:
        fh.write(json.dumps(cfg, indent=2, sort_keys=True))
    tensors = load_file(str(adapter_dir / "adapter_model.safetensors"))
    if half:
        tensors = {k: v.to(torch.float16).contiguous() for k, v in tensors.items()}
    with atomic_write(out_dir / "adapter_model.safetensors") as fh:
        fh.write(save(tensors, metadata={"format": "pt"}))


def train(model, sampler, device: torch.device, pad_id: int, *, run_dir: Path, out_dir: Optional[Path],
          max_steps: int, lr: float, warmup: int, ckpt_every: int, log_every: int = 10,
          deadline: Optional[float] = None, resume: bool = False, prefix_cache: bool = True,
          answer_logits_only: bool = True, grad_clip: float = 1.0, on_checkpoint=None, log=print,
          snapshot_every: int = 0, schedule_seconds: Optional[float] = None,
          max_skipped_in_a_row: int = 10) -> dict:
    """Train until max_steps or the wall-clock deadline (epoch seconds); returns the final state dict.

    ``snapshot_every``: also keep the adapter of every such step in run_dir/snapshots/step-N (a learning curve).
    ``schedule_seconds``: a budget of training seconds (this run's, counted from its first step): the cosine ends
    when it is spent and training stops there, for a machine lent for a fixed time (steps per second unknown ahead).
    A step whose loss or gradient is not finite updates nothing (counted in ``skipped_steps``); after
    ``max_skipped_in_a_row`` such steps in a row training stops with ``FloatingPointError``.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.0, betas=(0.9, 0.999))
    state = {"step": 0, "examples": 0, "train_seconds": 0.0, "loss_ema": None, "history": []}
    ckpt = run_dir / "ckpt" / "trainer.pt"
    if resume and ckpt.exists():
        blob = torch.load(ckpt, map_location="cpu", weights_only=False)
        optimizer.load_state_dict(blob["optimizer"])
        state.update(blob["state"])
        log(f"resumed at step {state['step']} ({state['examples']} examples, {state['train_seconds']:.0f}s trained)")
    model.train()
    run_seconds = 0.0
    window_t, window_ex, window_loss, window_acc, window_n = 0.0, 0, 0.0, 0.0, 0
    while state["step"] < max_steps:
        if deadline is not None and time.time() > deadline:
            log("deadline reached: stopping")
            break
        if schedule_seconds is not None and run_seconds >= schedule_seconds:
            log(f"time budget of {schedule_seconds:.0f}s spent: stopping")
            break
        step = state["step"]
        t0 = time.time()
        batch = sampler.batch(step)
        time_frac = run_seconds / schedule_seconds if schedule_seconds else 0.0
        for g in optimizer.param_groups:
            g["lr"] = lr_at(step, lr, warmup, max_steps, time_frac=time_frac)
        loss, info = batch_loss(model, batch, device, pad_id, prefix_cache, answer_logits_only)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(params, grad_clip if grad_clip else float("inf"))
        if torch.isfinite(loss) and torch.isfinite(norm):
            optimizer.step()
            state["skipped_in_a_row"] = 0
        else:  # one bad batch must not turn every weight into NaN (as it did once on a GPU in bfloat16)
            optimizer.zero_grad(set_to_none=True)
            state["skipped_steps"] = state.get("skipped_steps", 0) + 1
            state["skipped_in_a_row"] = state.get("skipped_in_a_row", 0) + 1
            log(f"step {step + 1}: non-finite loss or gradient, update skipped")
            if state["skipped_in_a_row"] >= max_skipped_in_a_row:
                raise FloatingPointError(f"{state['skipped_in_a_row']} steps in a row had a non-finite loss or "
                                         f"gradient (last at step {step + 1}); the adapter is as it was before them")
        dt = time.time() - t0
        run_seconds += dt
        state["step"] = step + 1
        state["examples"] += len(batch.examples)
        state["train_seconds"] += dt
        lv = float(loss.item())
        window_t += dt
        window_ex += len(batch.examples)
        if math.isfinite(lv):
            state["loss_ema"] = lv if state["loss_ema"] is None else 0.95 * state["loss_ema"] + 0.05 * lv
            window_loss += lv
            window_acc += info["answer_tok_acc"]
            window_n += 1
        if state["step"] % log_every == 0 or state["step"] == max_steps:
            # a window of skipped steps only has no loss to show
            rec = {"step": state["step"], "loss": round(window_loss / window_n, 4) if window_n else None,
                   "answer_tok_acc": round(window_acc / window_n, 4) if window_n else None,
                   "s_per_example": round(window_t / window_ex, 3),
                   "lr": round(optimizer.param_groups[0]["lr"], 7), "examples": state["examples"],
                   "time": time.strftime("%H:%M:%S", time.gmtime())}
            state["history"].append(rec)
            log(json.dumps(rec))
            window_t, window_ex, window_loss, window_acc, window_n = 0.0, 0, 0.0, 0.0, 0
        if state["step"] % ckpt_every == 0:
            save_checkpoint(model, optimizer, state, run_dir, out_dir)
            log(f"checkpoint at step {state['step']}")
            if on_checkpoint is not None:
                on_checkpoint(state)
            if snapshot_every and state["step"] % snapshot_every == 0:
                snapshot = run_dir / "snapshots" / f"step-{state['step']}"
                publish_adapter(run_dir / "ckpt" / "adapter", snapshot)
                if out_dir is not None and (out_dir / "training.json").exists():  # how it was trained (folder codes...)
                    shutil.copyfile(out_dir / "training.json", snapshot / "training.json")
    save_checkpoint(model, optimizer, state, run_dir, out_dir)
    log(f"final checkpoint at step {state['step']}")
    return state
