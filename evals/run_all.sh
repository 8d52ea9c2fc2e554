#!/usr/bin/env bash
# Every accuracy figure of the README and of the model's training.json, with the default model (or MODEL=...).
# Baselines on the same rows: python evals/baselines.py; learning curve: bash evals/learning_curve.sh.
#   [DATA=train.jsonl] [SEED=seed_emergent.json] [OUT=runs/eval] [MODEL=name|path] [PRIOR=auto|none|reader|embeddings] bash evals/run_all.sh
# PRIOR: Classifier(folder_prior=...) everywhere but the injection suite (always auto); default auto, the model's own
# (the folder reader for the default model); PRIOR=none measures the model alone.
# Reports go to $OUT/*.json (never committed); a summary table is printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data/notifai/train.jsonl}
SEED=${SEED:-../shared/data/seed_emergent.json}
OUT=${OUT:-runs/eval}
PY=${PY:-.venv/bin/python}
MODEL_ARGS=(); [ -n "${MODEL:-}" ] && MODEL_ARGS=(--model "$MODEL")
PRIOR_ARGS=(--folder-prior "${PRIOR:-auto}")
mkdir -p "$OUT"
# --corrections names a store that does not exist: the figures are the model's own, not the user's corrections'.
ev() { local name=$1; shift; $PY -m notifclf eval "$@" "${MODEL_ARGS[@]}" "${PRIOR_ARGS[@]}" --corrections "$OUT/none.sqlite3" --no-progress \
  --report "$OUT/$name.json" > "$OUT/$name.txt"; }

ev dev "$DATA" --dev-split
ev dev-renamed "$DATA" --dev-split --folders evals/renamed-defaults.folders.json \
   --label-map Work=Job,Personal=Private,Promotions=Deals,Alerts=Notices
for suite in mixed-custom renamed-defaults student oncall-engineer chinese-folders; do
  ev "suite-$suite" "evals/$suite.json"
done
ev seed-emergent "$SEED"
$PY evals/run_injection.py "${MODEL_ARGS[@]}" > "$OUT/injection.txt"
# Folder sets and concepts never trained on, preferences, clear-cut priorities (evals/run_heldout.py).
$PY evals/make_heldout_sets.py --data "$DATA" --out "$OUT/data" > /dev/null
$PY evals/run_heldout.py "${MODEL_ARGS[@]}" "${PRIOR_ARGS[@]}" --data-dir "$OUT/data" --out "$OUT/heldout/report.json" > "$OUT/heldout.txt"

$PY - "$OUT" <<'PY'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
print(f"{'set':<28}{'n':>5}{'folder':>9}{'priority':>10}{'both':>8}{'invalid':>9}{'ms/notif':>10}")
for f in sorted(out.glob("*.json")):
    r = json.loads(f.read_text())
    pri = "-" if r.get("priority_accuracy") is None else f"{r['priority_accuracy']:.1%}"
    both = "-" if r.get("both_accuracy") is None else f"{r['both_accuracy']:.1%}"
    print(f"{f.stem:<28}{r['n']:>5}{r['folder_accuracy']:>9.1%}{pri:>10}{both:>8}{r['invalid_outputs']:>9}{r['latency_ms_mean']:>10.0f}")
print((out / "injection.txt").read_text().strip().splitlines()[-1])
print()
print((out / "heldout.txt").read_text().strip())
PY
