"""Dev metrics in torch: grammar-constrained greedy decoding, exactly as the runtime's grammar allows.

At each answer step the allowed next tokens are those whose bytes keep the answer a prefix of one of the
grammar's strings (``render_answer(folder, priority)`` for every folder and priority); the model's argmax among
them is taken; steps with one allowed token are forced. That is what llama.cpp's grammar sampling does with
greedy decoding (temperature 0), so these figures are what the merged model should score at runtime (up to
quantization of the merged weights).
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Optional, Sequence

import torch

from notifclf.folders import DEFAULT_FOLDERS
from notifclf.prompt import training_answer
from notifclf.schema import PRIORITIES, allowed_next_tokens

from ..hf_tokenizer import bytes_to_unicode
from .batches import ExampleBuilder, Scenario
from .folder_sets import FolderSet, FolderSpec
from .model import body_and_head


class TokenBytes:
    """Map byte strings to token ids for a byte-level BPE tokenizer (special tokens excluded)."""

    def __init__(self, tok):
        dec = {v: k for k, v in bytes_to_unicode().items()}
        special = set(tok.all_special_ids) | set(getattr(tok, "added_tokens_decoder", {}).keys())
        self.by_bytes: dict[bytes, int] = {}
        vocab = tok.get_vocab()
        for piece, tid in vocab.items():
            if tid in special:
                continue
            try:
                b = bytes(dec[c] for c in piece)
            except KeyError:
                continue
            # keep the lowest id for duplicate byte strings (there should be none)
            if b not in self.by_bytes or tid < self.by_bytes[b]:
                self.by_bytes[b] = tid
        self.bytes_of = {tid: b for b, tid in self.by_bytes.items()}
        self.ids_of = {b: (tid,) for b, tid in self.by_bytes.items()}
        self.max_piece_len = max(map(len, self.by_bytes), default=0)

    def allowed(self, done: bytes, targets: Sequence[bytes]) -> set[int]:
        return allowed_next_tokens(done, targets, self.ids_of, self.max_piece_len)


@dataclass
class Case:
    row: dict
    folder: str
    priority: int


@torch.no_grad()
def constrained_decode(model, builder: ExampleBuilder, tb: TokenBytes, sc: Scenario, cases: Sequence[Case],
                       device: torch.device, exact: bool = False) -> list[Optional[tuple[str, int]]]:
    """Greedy grammar-constrained answers for cases sharing one folder set (prefix KV computed once).

    exact=True runs the model at every answer step where the grammar allows more than one token (what llama.cpp
    does). exact=False (fast) feeds text that every still-possible answer shares in its canonical tokenization
    (the tokenization the model was trained on) without asking the model, and runs it only where the answers
    diverge (folder name, priority digit); there the argmax is still taken over every grammar-allowed token.
    """
    body, head = body_and_head(model)
    answers = {training_answer(f.name, p).encode("utf-8"): (f.name, p) for f in sc.folders for p in PRIORITIES}
    targets = list(answers)
    canon = {t: builder.encode(t.decode("utf-8"), False) for t in targets}
    prefix = builder.prefix_ids(sc)
    out = body(input_ids=torch.tensor([prefix], device=device), use_cache=True)
    cache = out.past_key_values
    P = len(prefix)
    results = []
    for case in cases:
        ex = builder.example(sc, case.row, case.folder, case.priority)
        pending = ex.ids[: len(ex.ids) - ex.n_answer]  # user + suffix
        done = b""
        path: list[int] = []
        pos = P
        result = None
        for _ in range(64):
            if done in answers:
                result = answers[done]
                break
            allowed = tb.allowed(done, targets)
            if not allowed:
                break
            tid = None
            if len(allowed) == 1:
                tid = next(iter(allowed))
            elif not exact:
                live = [t for t in targets if t.startswith(done) and len(t) > len(done)]
                k = len(path)
                nxt = {canon[t][k] if canon[t][:k] == path and len(canon[t]) > k else None for t in live}
                if len(nxt) == 1 and None not in nxt:
                    tid = nxt.pop()
            if tid is None:
                ids = torch.tensor([pending], device=device)
                pos_ids = torch.arange(pos, pos + len(pending), device=device).unsqueeze(0)
                h = body(input_ids=ids, past_key_values=cache, position_ids=pos_ids, use_cache=True).last_hidden_state
                pos += len(pending)
                pending = []
                logits = head(h[0, -1]).float()
                cand = torch.tensor(sorted(allowed), device=device)
                tid = int(cand[logits[cand].argmax()].item())
            pending.append(tid)
            path.append(tid)
            done += tb.bytes_of[tid]
        extra = cache.get_seq_length() - P
        if extra > 0:
            cache.crop(-extra)
        results.append(result)
    return results


def score(preds: Sequence[Optional[tuple[str, int]]], cases: Sequence[Case]) -> dict:
    n = len(cases)
    f_ok = p_ok = both = invalid = 0
    per_folder: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    per_prio: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    confusion: Counter = Counter()
    for pred, c in zip(preds, cases):
        per_folder[c.folder][1] += 1
        per_prio[c.priority][1] += 1
        if pred is None:
            invalid += 1
            continue
        fo, po = pred[0] == c.folder, pred[1] == c.priority
        f_ok += fo
        p_ok += po
        both += fo and po
        per_folder[c.folder][0] += fo
        per_prio[c.priority][0] += po
        confusion[f"{c.folder}->{pred[0]}"] += 1
    r = lambda a: round(a / n, 4) if n else None  # noqa: E731
    return {"n": n, "folder_acc": r(f_ok), "priority_acc": r(p_ok), "both_acc": r(both), "invalid": invalid,
            "per_folder": {k: round(v[0] / v[1], 3) for k, v in per_folder.items()},
            "per_priority": {str(k): round(v[0] / v[1], 3) for k, v in sorted(per_prio.items())},
            "confusion": dict(confusion.most_common())}


def defaults_scenario() -> Scenario:
    return Scenario(FolderSet(tuple(FolderSpec(f, defaults=frozenset({f.name})) for f in DEFAULT_FOLDERS), "defaults"))


def run_suites(model, builder: ExampleBuilder, tb: TokenBytes, dev_rows: Sequence[dict], device: torch.device,
               n_dev: int = 200, seed_emergent: Optional[tuple] = None, log=print,
               suites: Sequence[str] = ("default", "seed"), exact: bool = False,
               ) -> dict:
    """Quick figures in torch: dev rows under the default folders, and seed_emergent. The full figures (held-out
    concepts and folder sets, preferences, suites) come from the runtime: ``bash evals/run_all.sh``."""
    model.eval()
    t0 = time.time()
    rows = list(dev_rows)[:n_dev]
    report: dict = {"method": "grammar-constrained greedy decoding in torch (argmax over grammar-allowed tokens) "
                              + ("at every step" if exact else "at the steps where the allowed answers diverge; "
                                 "shared text fed in its canonical tokenization"),
                    "dtype": str(next(model.parameters()).dtype), "n_dev": len(rows)}
    if "default" in suites:
        sc = defaults_scenario()
        cases = [Case(r, r["folder"], int(r["priority"])) for r in rows]
        t = time.time()
        res = score(constrained_decode(model, builder, tb, sc, cases, device, exact), cases)
        res["s_per_case"] = round((time.time() - t) / max(1, len(cases)), 3)
        log("eval dev_default: " + json.dumps({k: res[k] for k in ("n", "folder_acc", "priority_acc", "both_acc", "invalid")}))
        report["dev_default"] = res
    if seed_emergent is not None and "seed" in suites:
        folders, cases_raw = seed_emergent
        sc = Scenario(FolderSet(tuple(FolderSpec(f) for f in folders), "seed"))
        cases = [Case(c, c["folder"], 1) for c in cases_raw]
        preds = constrained_decode(model, builder, tb, sc, cases, device, exact)
        ok = sum(1 for p, c in zip(preds, cases) if p is not None and p[0] == c.folder)
        report["seed_emergent"] = {"n": len(cases), "folder_correct": ok,
                                   "wrong": [f"{c.row['app']}: {c.row['title']} -> {p[0] if p else None} (want {c.folder})"
                                             for p, c in zip(preds, cases) if not (p and p[0] == c.folder)]}
        log(f"eval seed_emergent: {ok}/{len(cases)}")
    report["eval_seconds"] = round(time.time() - t0, 1)
    model.train()
    return report
