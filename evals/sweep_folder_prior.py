"""Choosing the folder prior's weight: folder accuracy of argmax log P_model + weight * cosine, for a grid of weights.

The model runs once per case (no prior), its folder distribution and the embedding cosines are kept, and every
weight is scored from them (the runtime's choice with ``EmbeddingFolderPrior(weight=w)`` is exactly this argmax).
The weight is chosen on the in-distribution rows only (sampled folder sets of trained categories + the dev split,
mean of the two); the held-out sets are printed beside it, never used to choose.

Also printed: contextual calibration (the model's folder distribution divided by its distribution on content-free
inputs, to the power alpha), alone and with the chosen weight; measured, not used by the runtime.

    python evals/sweep_folder_prior.py [--model NAME|PATH] [--data-dir runs/eval/data] [--out runs/eval/prior-sweep.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from notifclf.embedding import load_sentence_encoder  # noqa: E402
from notifclf.embedding.folder_prior import EmbeddingFolderPrior  # noqa: E402
from notifclf.folders import validate_folders  # noqa: E402
from notifclf.notification import Notification  # noqa: E402
from run_heldout import data_sets, dev_split_set, model_only_classifier, note_of  # noqa: E402

EVALS = Path(__file__).resolve().parent
WEIGHTS = (0, 2, 5, 10, 15, 20, 30, 50, 1000)
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


def collect(model: str | None, data_dir: Path, data: Path) -> dict:
    prior = EmbeddingFolderPrior(load_sentence_encoder(), weight=1.0)
    clf = model_only_classifier(model)
    found: dict = {}
    try:
        for name, folders, instructions, cases in suites(data_dir, data):
            clf.set_folders(folders, instructions or None)
            notes = [Notification.coerce(note_of(c)) for c in cases]
            results = []
            for i in range(0, len(notes), 8):
                results += clf.classify_many(notes[i: i + 8])
            names = [f.name for f in clf.folders]
            cos = prior.bias(validate_folders(folders), notes)
            lean = np.mean([[r.folder_distribution.get(n, 0.0) for n in names]
                            for r in clf.classify_many(list(CONTENT_FREE))], axis=0)
            found[name] = {"folders": names, "gold": [c["folder"] for c in cases], "cos": cos.tolist(),
                           "model": [[r.folder_distribution.get(n, 0.0) for n in names] for r in results],
                           "content_free": lean.tolist()}
            print(f"{name:<32}{len(cases):>5}", flush=True)
    finally:
        clf.close()
    return found


def accuracy(found: dict, names: list[str], weight: float, alpha: float = 0.0) -> float:
    """Folder accuracy of argmax log P_model - alpha * log P_model(content-free) + weight * cosine."""
    ok = n = 0
    for name in names:
        s = found[name]
        scores = np.log(np.maximum(np.array(s["model"]), 1e-12)) + weight * np.array(s["cos"])
        if alpha:
            scores -= alpha * np.log(np.maximum(np.array(s["content_free"]), 1e-6))
        ok += sum(s["folders"][i] == g for i, g in zip(np.argmax(scores, axis=1), s["gold"]))
        n += len(s["gold"])
    return ok / max(1, n)


def table(found: dict) -> tuple[str, float]:
    groups = {label: [n for n in found if (n in key if isinstance(key, tuple) else n.startswith(key))]
              for label, key in GROUPS.items()}
    lines = [f"{'weight':>7}" + "".join(f"{label:>26}" for label in groups)]
    chosen, best = 0.0, -1.0
    for w in WEIGHTS:
        accs = {label: accuracy(found, names, w) for label, names in groups.items()}
        lines.append(f"{w:>7}" + "".join(f"{a:>26.1%}" for a in accs.values()))
        score = (accs["in-distribution sets"] + accs["dev split (defaults)"]) / 2
        if score > best + 1e-9:
            chosen, best = w, score
    lines.append(f"chosen on the in-distribution rows (mean of sets and dev split): weight {chosen}")
    lines.append("contextual calibration (divided by the folder distribution on content-free inputs):")
    for weight in sorted({0.0, chosen}):
        for alpha in ALPHAS:
            accs = [accuracy(found, names, weight, alpha) for names in groups.values()]
            lines.append(f"{f'w{weight:g} a{alpha:g}':>7}" + "".join(f"{a:>26.1%}" for a in accs))
    return "\n".join(lines), chosen


def main(argv=None) -> int:
    from convert.train.rows import DEFAULT_DATA

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=None)
    p.add_argument("--data", default=str(DEFAULT_DATA))
    p.add_argument("--data-dir", default="runs/eval/data")
    p.add_argument("--out", default="runs/eval/prior-sweep.json")
    args = p.parse_args(argv)
    found = collect(args.model, Path(args.data_dir), Path(args.data))
    text, chosen = table(found)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"model": args.model or "default", "chosen": chosen, "sets": found}))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
