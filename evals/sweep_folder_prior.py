"""Choosing the folder prior's weight: folder accuracy of argmax log P_model + weight * cosine, for a grid of weights.

The model runs once per case (no prior), its folder distribution and the embedding cosines are kept, and every
weight is scored from them (the runtime's choice with ``EmbeddingFolderPrior(weight=w)`` is exactly this argmax; like
the runtime, no prior under the four default folders, so the dev split and the rows under the defaults keep the
model's own figure). The weight and the parts mix (how much of a folder's score its best listed part gives:
``EmbeddingFolderPrior(parts=...)``) are chosen on the in-distribution sampled sets only (folder sets of trained
categories, dev rows); the held-out sets are printed beside it, never used to choose. Weight 1000 (the encoder alone,
the model out of every folder decision) is printed as a reference line and never chosen (a rule fixed on 2026-12-05,
after it had chosen the encoder alone for a candidate reader, which was therefore not registered: docs/experiments.md).

Also printed: contextual calibration (the model's folder distribution divided by its distribution on content-free
inputs, to the power alpha), alone and with the chosen weight; measured, not used by the runtime.

    python evals/sweep_folder_prior.py [--model NAME|PATH] [--data-dir runs/eval/data] [--out runs/eval/prior-sweep.json]
                                       [--priors embeddings,reader] [--reuse]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from notifclf.embedding.folder_prior import PRIOR_NAMES, EmbeddingFolderPrior, load_folder_prior  # noqa: E402
from notifclf.folders import Folder, is_default_set, validate_folders  # noqa: E402
from notifclf.notification import Notification  # noqa: E402
from run_heldout import data_sets, dev_split_set, model_only_classifier, note_of  # noqa: E402

EVALS = Path(__file__).resolve().parent
ENCODER_ALONE = 1000  # a reference line, not a candidate
WEIGHTS = (0, 2, 5, 10, 15, 20, 30, 50, 75, 100, 150, ENCODER_ALONE)
PARTS = (0.0, 0.25, 0.5, 0.75, 1.0)  # how much of a folder's score its best listed part gives
GROUPS = {"in-distribution sets": "indist-sets-", "dev split (defaults)": "dev-defaults",
          "held-out hand-written": ("heldout-city-life", "heldout-reseller-traveller", "heldout-self-improver"),
          "held-out concepts": "heldout-concepts-", "held-out rows, defaults": "heldout-defaults",
          "preferences decided": "preferences-decided"}


def suites(data_dir: Path, data: Path) -> list[tuple[str, list, str, list[dict]]]:
    out = [(name, folders, "", cases) for name, folders, cases in data_sets(data_dir)]
    prefs = json.loads((EVALS / "preferences.json").read_text(encoding="utf-8"))
    out.append(("preferences-decided", prefs["folders"], prefs["instructions"],
                [c for c in prefs["cases"] if c.get("decided_by") is not None]))
    name, folders, cases = dev_split_set(data)
    out.append((name, folders, "", cases))
    return out


# Content-free inputs for contextual calibration (Zhao et al. 2021): the model's folder distribution on them is its
# lean towards each folder whatever the notification says; dividing by it (alpha) is measured beside the prior.
CONTENT_FREE = (Notification(title=""), Notification(app="App", title="Notification", body="N/A"),
                Notification(title="[MASK]", body="[MASK]"))
ALPHAS = (0.5, 1.0)


def collect(model: str | None, data_dir: Path, data: Path, threads: int | None = None) -> dict:
    """The model's folder distribution on every case (no prior), with the cases' notifications and gold folders."""
    clf = model_only_classifier(model, n_threads=threads)
    found: dict = {}
    try:
        for name, folders, instructions, cases in suites(data_dir, data):
            clf.set_folders(folders, instructions or None)
            notes = [Notification.coerce(note_of(c)) for c in cases]
            results = []
            for i in range(0, len(notes), 8):
                results += clf.classify_many(notes[i: i + 8])
            names = [f.name for f in clf.folders]
            lean = np.mean([[r.folder_distribution.get(n, 0.0) for n in names]
                            for r in clf.classify_many(list(CONTENT_FREE))], axis=0)
            found[name] = {"folders": names, "descriptions": [f["description"] for f in folders],
                           "notes": [note_of(c) for c in cases], "gold": [c["folder"] for c in cases],
                           "model": [[r.folder_distribution.get(n, 0.0) for n in names] for r in results],
                           "content_free": lean.tolist()}
            print(f"{name:<32}{len(cases):>5}", flush=True)
    finally:
        clf.close()
    return found


def add_cosines(found: dict, prior_name: str) -> None:
    """``found[set]["cos"]``: the cosines of ``prior_name``'s encoder (a prior of weight 1), for every set;
    ``"cos_parts"``: the same read with ``parts=1`` (each folder its whole description's or its best listed part's
    cosine, whichever is higher). The runtime's score with ``parts=p`` is the mix ``(1 - p) * cos + p * cos_parts``."""
    loaded = load_folder_prior(prior_name).load()
    whole, listed = (EmbeddingFolderPrior(loaded.encoder, weight=1.0, catch_all=loaded.catch_all, parts=p)
                     for p in (0.0, 1.0))
    for s in found.values():
        folders = validate_folders([{"name": n, "description": d} for n, d in zip(s["folders"], s["descriptions"])])
        notes = [Notification.coerce(n) for n in s["notes"]]
        s["cos"], s["cos_parts"] = whole.bias(folders, notes).tolist(), listed.bias(folders, notes).tolist()


def accuracy(found: dict, names: list[str], weight: float, alpha: float = 0.0, parts: float = 0.0) -> float:
    """Folder accuracy of argmax log P_model - alpha * log P_model(content-free) + weight * cosine, the cosine read
    with ``parts`` (no prior under the four default folders: the runtime applies none there)."""
    ok = n = 0
    for name in names:
        s = found[name]
        w = 0.0 if is_default_set(map(Folder, s["folders"], s["descriptions"])) else weight  # as the runtime does
        cos = (1 - parts) * np.array(s["cos"]) + parts * np.array(s["cos_parts"])
        scores = np.log(np.maximum(np.array(s["model"]), 1e-12)) + w * cos
        if alpha:
            scores -= alpha * np.log(np.maximum(np.array(s["content_free"]), 1e-6))
        ok += sum(s["folders"][i] == g for i, g in zip(np.argmax(scores, axis=1), s["gold"]))
        n += len(s["gold"])
    return ok / max(1, n)


def table(found: dict) -> tuple[str, tuple[float, float]]:
    """The accuracy of every weight and parts mix, and the (weight, parts) the in-distribution sets choose among the
    candidates, every weight but the encoder alone (ties go to the smaller weight and the fewer parts)."""
    groups = {label: [n for n in found if (n in key if isinstance(key, tuple) else n.startswith(key))]
              for label, key in GROUPS.items()}
    lines = [f"{'parts':>6}{'weight':>7}" + "".join(f"{label:>26}" for label in groups)]
    chosen, best = (0.0, 0.0), -1.0
    for parts in PARTS:
        for w in WEIGHTS:
            accs = {label: accuracy(found, names, w, parts=parts) for label, names in groups.items()}
            lines.append(f"{parts:>6g}{w:>7}" + "".join(f"{a:>26.1%}" for a in accs.values()))
            score = accs["in-distribution sets"]
            if w != ENCODER_ALONE and score > best + 1e-9:
                chosen, best = (w, parts), score
    lines.append(f"chosen on the in-distribution sampled sets: weight {chosen[0]}, parts {chosen[1]}")
    lines.append("contextual calibration (divided by the folder distribution on content-free inputs):")
    for weight in sorted({0.0, chosen[0]}):
        for alpha in ALPHAS:
            accs = [accuracy(found, names, weight, alpha, chosen[1]) for names in groups.values()]
            lines.append(f"{f'w{weight:g} a{alpha:g}':>13}" + "".join(f"{a:>26.1%}" for a in accs))
    return "\n".join(lines), chosen


def main(argv=None) -> int:
    from convert.train.rows import DEFAULT_DATA

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=None)
    p.add_argument("--data", default=str(DEFAULT_DATA))
    p.add_argument("--data-dir", default="runs/eval/data")
    p.add_argument("--out", default="runs/eval/prior-sweep.json")
    p.add_argument("--priors", default="embeddings", help=f"comma-separated, of {', '.join(PRIOR_NAMES)}")
    p.add_argument("--threads", type=int, default=None, help="llama.cpp threads (default: the Classifier's)")
    p.add_argument("--reuse", action="store_true",
                   help="take the model's distributions from --out (written by an earlier run) instead of running it")
    args = p.parse_args(argv)
    out = Path(args.out)
    if args.reuse:
        report = json.loads(out.read_text(encoding="utf-8"))
        found = report["sets"]
    else:
        found = collect(args.model, Path(args.data_dir), Path(args.data), args.threads)
        report = {"model": args.model or "default", "sets": found}
    out.parent.mkdir(parents=True, exist_ok=True)
    for prior_name in args.priors.split(","):
        add_cosines(found, prior_name)
        text, chosen = table(found)
        report.setdefault("chosen", {})[prior_name] = chosen
        print(f"folder prior {prior_name!r} (weight {ENCODER_ALONE}: the encoder alone, never chosen):")
        print(text)
    out.write_text(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
