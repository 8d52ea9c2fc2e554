#!/usr/bin/env bash
# Held-out accuracy against examples seen: each adapter snapshot of a training run, merged and quantized like the
# default (Q4_K_M), evaluated on the held-out folder sets and concepts (evals/run_heldout.py --only heldout-).
#   RUN=runs/taxo-lora [BASE=base.gguf] [PY=.venv/bin/python] [HELDOUT_ARGS="--folder-orders 3"] bash evals/learning_curve.sh
# HELDOUT_ARGS: more evals/run_heldout.py options. A run trained with --folder-codes needs none: each snapshot keeps
# its training.json, so its built model reads codes by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${RUN:-runs/taxo-lora}
PY=${PY:-.venv/bin/python}
BASE=${BASE:-${NOTIFCLF_CACHE:-$HOME/.cache/notifclf}/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf}
[ -d runs/eval/data ] || $PY evals/make_heldout_sets.py --out runs/eval/data > /dev/null
for snap in $(ls -d "$RUN"/snapshots/step-* | sort -t- -k2 -n); do
  step=${snap##*-}
  out="$RUN/curve/step-$step"
  mkdir -p "$out"
  [ -f "$out/model.gguf" ] || $PY -m convert build --base "$BASE" --adapter "$snap" --out "$out/model.gguf" > "$out/build.log" 2>&1
  [ -f "$out/heldout.json" ] || $PY evals/run_heldout.py --model "$out/model.gguf" --only heldout- ${HELDOUT_ARGS:-} --out "$out/heldout.json" > "$out/heldout.txt"
done
$PY - "$RUN" <<'PY'
import json, sys
from pathlib import Path
run = Path(sys.argv[1])
state = json.loads((run / "ckpt" / "state.json").read_text())
batch = state["examples"] / state["step"]
print(f"{'step':>6}{'examples':>10}{'hand-written sets':>19}{'sampled concepts':>18}{'held-out rows, defaults':>25}")
for d in sorted((run / "curve").glob("step-*"), key=lambda p: int(p.name.split("-")[1])):
    if not (d / "heldout.json").exists():  # an evaluation that was interrupted: rerun the script to finish it
        continue
    sets = json.loads((d / "heldout.json").read_text())["sets"]
    def mean(pred):
        rs = [r for n, r in sets.items() if pred(n)]
        return sum(r["folder"] * r["n"] for r in rs) / max(1, sum(r["n"] for r in rs))
    hand = mean(lambda n: n.startswith("heldout-") and not n.startswith("heldout-concepts") and n != "heldout-defaults")
    step = int(d.name.split("-")[1])
    print(f"{step:>6}{round(step * batch):>10}{hand:>19.1%}{mean(lambda n: n.startswith('heldout-concepts')):>18.1%}"
          f"{sets.get('heldout-defaults', {}).get('folder', 0):>25.1%}")
PY
