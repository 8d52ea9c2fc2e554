"""Classify a few notifications with the embedded default model (offline, CPU)."""

import notifclf

clf = notifclf.Classifier()  # default model and folders: Work, Personal, Promotions, Alerts
print("model:", clf.model_path)
for note in [
    notifclf.Notification(app="Slack", title="#incidents", body="PROD DOWN - payments returning 500s"),
    {"app": "Chase", "title": "Payment received", "body": "You received $250.00 from Alex"},
    {"app": "Shopee", "title": "Flash Deal: Electronics!", "body": "Up to 70% OFF on phones. Ends in 2 hours!"},
    {"app": "WhatsApp", "title": "Mom", "body": "Are you coming for dinner on Sunday?"},
]:
    print(clf.classify(note).to_json())
