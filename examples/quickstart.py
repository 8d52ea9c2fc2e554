"""Classify a few notifications with the embedded default model (offline, CPU)."""

import notifclf

notes = [
    notifclf.Notification(app="Slack", title="#incidents", body="PROD DOWN - payments returning 500s"),
    notifclf.Notification(app="Chase", title="Payment received", body="You received $250.00 from Alex"),
    notifclf.Notification(app="Shopee", title="Flash Deal: Electronics!", body="Up to 70% OFF on phones. Ends in 2 hours!"),
    notifclf.Notification(app="WhatsApp", title="Mom", body="Are you coming for dinner on Sunday?"),
]
with notifclf.Classifier() as clf:  # default model and folders: Work, Personal, Promotions, Alerts
    print("model:", clf.model_path)
    for note, r in zip(notes, clf.classify_many(notes)):
        print(f"\n{note.app}: {note.title} | {note.body}\n  -> {r.folder}, priority {r.priority} "
              f"(confidence: folder {r.folder_confidence:.0%}, priority {r.priority_confidence:.0%})")
