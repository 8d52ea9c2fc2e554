"""Write evaluation figures into an adapter's training.json (records are written by code, never by hand).

    python evals/record_metrics.py ADAPTER_DIR [--eval-dir runs/eval] [--curve-dir runs/taxo-lora/curve]

Adds ``evaluation``: the summary of every ``notifclf eval`` report in --eval-dir, the held-out report
(``heldout/report.json``: every set's folder/priority/both) and, when present, the corrections report and the learning
curve (held-out folder accuracy of each snapshot).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

KEEP = ("n", "folder_accuracy", "priority_accuracy", "both_accuracy", "invalid_outputs", "folder_ece", "priority_ece")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("adapter")
    p.add_argument("--eval-dir", default="runs/eval")
    p.add_argument("--curve-dir", default=None)
    args = p.parse_args(argv)
    record_path = Path(args.adapter) / "training.json"
    record = json.loads(record_path.read_text(encoding="utf-8"))
    eval_dir = Path(args.eval_dir)
    evaluation: dict = {"recorded": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                        "commands": "bash evals/run_all.sh; python evals/run_corrections.py; bash evals/learning_curve.sh",
                        "notifclf_eval": {}}
    for report in sorted(eval_dir.glob("*.json")):
        data = json.loads(report.read_text(encoding="utf-8"))
        if isinstance(data, dict) and "folder_accuracy" in data:
            evaluation["notifclf_eval"][report.stem] = {k: data.get(k) for k in KEEP}
    heldout = eval_dir / "heldout" / "report.json"
    if heldout.exists():
        sets = json.loads(heldout.read_text(encoding="utf-8"))["sets"]
        evaluation["heldout"] = {name: {k: r[k] for k in ("n", "folder", "priority", "both")} for name, r in sets.items()}
    corrections = eval_dir / "corrections.json"
    if corrections.exists():
        evaluation["corrections"] = json.loads(corrections.read_text(encoding="utf-8"))
    if args.curve_dir and Path(args.curve_dir).exists():
        curve = {}
        for d in sorted(Path(args.curve_dir).glob("step-*"), key=lambda x: int(x.name.split("-")[1])):
            if (d / "heldout.json").exists():
                sets = json.loads((d / "heldout.json").read_text(encoding="utf-8"))["sets"]
                curve[d.name] = {name: r["folder"] for name, r in sets.items()}
        evaluation["learning_curve_heldout_folder"] = curve
    record["evaluation"] = evaluation
    record_path.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"recorded {len(evaluation['notifclf_eval'])} eval reports"
          + (f", {len(evaluation.get('heldout', {}))} held-out sets" if "heldout" in evaluation else "")
          + f" into {record_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
