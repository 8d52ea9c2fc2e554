"""Mechanisms measured against worked examples alone, by similarity to the user's corrections.

For each simulated user of evals/conventions/: the model labels every case with no corrections; then, for k
corrections per convention and a similarity bar (cosine of all-MiniLM-L6-v2 embeddings of "app. title. body",
notifclf.embedding, between the case and its most similar correction):

* ``retrieval``: a case whose cosine clears the bar takes that correction's label, else keeps the model's; with
  ``--transfer changed``, only the fields the correction changed (its label against the model's own answer for the
  corrected notification: a priority-only correction moves the priority alone); with ``--transfer same-folder``,
  those fields only where the model files the case where it filed the corrected notification (the case is read as
  the same kind, so it is on the corrected side of the user's line);
* ``gate``: a case whose cosine clears the bar takes the model's answer with the k corrections as worked examples in
  the prompt (as ``Classifier.correct`` stores them), else the model's answer without them (two cached prompts).

Printed: how often the cases a convention decides follow it, and the untouched cases' folder accuracy (compare with
evals/run_corrections.py, same users and pool order; bar 2 = no corrections, bar -1 = examples for every case).
``--encoder reader`` embeds with the folder reader (the encoder with its LoRA adapter) instead of the published
encoder.

    python evals/retrieval_corrections.py [--model NAME|PATH] [--mechanism retrieval|gate] [--ks 1,3,5]
                                          [--bars 0.3,0.4,0.5,0.6,0.7] [--encoder published|reader]
                                          [--transfer label|changed|same-folder]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from notifclf.embedding import load_sentence_encoder  # noqa: E402
from notifclf.embedding.folder_prior import notification_text, reader_encoder  # noqa: E402
from notifclf.notification import Notification  # noqa: E402
from run_corrections import SUITES, _note, answers_with_corrections, follows, shown_items  # noqa: E402
from run_heldout import model_only_classifier  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=None)
    p.add_argument("--mechanism", default="retrieval", choices=["retrieval", "gate"])
    p.add_argument("--ks", default="1,3,5")
    p.add_argument("--bars", default="0.3,0.4,0.5,0.6,0.7")
    p.add_argument("--encoder", default="published", choices=["published", "reader"])
    p.add_argument("--transfer", default="label", choices=["label", "changed", "same-folder"],
                   help="retrieval: take the correction's whole label, only the fields it changed, or those only "
                        "where the model files the case as it filed the corrected notification")
    args = p.parse_args(argv)
    encoder = reader_encoder() if args.encoder == "reader" else load_sentence_encoder()
    users = [json.loads(path.read_text(encoding="utf-8")) for path in sorted(SUITES.glob("*.json"))]
    clf = model_only_classifier(args.model)
    found = []
    try:
        for user in users:
            clf.set_folders(user["folders"])
            model = clf.classify_many([_note(c) for c in user["cases"]])
            # what the corrections corrected (read by every --transfer but label)
            own = clf.classify_many([_note(c) for c in user["pool"]]) if args.transfer != "label" else None
            embed = lambda items: encoder.encode([notification_text(Notification.coerce(_note(i))) for i in items])  # noqa: E731
            found.append((user, model, own, embed(user["cases"]), embed(user["pool"])))
    finally:
        clf.close()
    for k in (int(x) for x in args.ks.split(",")):
        taught = [answers_with_corrections(args.model, user, k) if args.mechanism == "gate" else None
                  for user, *_ in found]
        for bar in (float(x) for x in args.bars.split(",")):
            followed = decided = kept = untouched = kept_before = 0
            for (user, model, own, cases, pool), with_examples in zip(found, taught):
                conventions = {c["id"]: c for c in user["conventions"]}
                shown = shown_items(user, k)
                for n, (case, result, vector) in enumerate(zip(user["cases"], model, cases)):
                    label = (result.folder, result.priority)
                    sims = pool[shown] @ vector
                    if shown and sims.max() >= bar:
                        if with_examples is not None:  # gate: the answer with the corrections in the prompt
                            label = (with_examples[n].folder, with_examples[n].priority)
                        else:  # retrieval: the most similar correction's label, or the fields it changed
                            j = shown[int(np.argmax(sims))]
                            item = user["pool"][j]
                            if args.transfer == "label":
                                label = (item["folder"], item["priority"])
                            elif args.transfer == "changed" or result.folder == own[j].folder:
                                label = (item["folder"] if item["folder"] != own[j].folder else label[0],
                                         item["priority"] if item["priority"] != own[j].priority else label[1])
                    answer = type("Answer", (), {"folder": label[0], "priority": label[1]})
                    if case.get("decided_by"):
                        decided += 1
                        followed += follows(answer, conventions[case["decided_by"]])
                    else:
                        untouched += 1
                        kept += label[0] == case["folder"]
                        kept_before += result.folder == case["folder"]
            print(f"{args.mechanism} ({args.encoder}, {args.transfer}) k={k} bar={bar:.2f}: follow {followed / decided:.1%}  untouched folder {kept / untouched:.1%} "
                  f"(no corrections {kept_before / untouched:.1%})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
