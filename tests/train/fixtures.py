"""Rows and a fake tokenizer shared by the training-data tests (no torch, no real model)."""

from __future__ import annotations

ROWS = [
    {"id": "t1", "app": "gitlab", "app_name": "GitLab", "title": "MR merged", "body": "Your merge request !12 was merged", "folder": "Work", "priority": 2},
    {"id": "t2", "app": "fedex", "app_name": "FedEx", "title": "Delivered", "body": "Your package was delivered", "folder": "Alerts", "priority": 1},
    {"id": "t3", "app": "chase", "app_name": "Chase Mobile", "title": "Payment due", "body": "Your bill of $40 is due Friday", "folder": "Alerts", "priority": 2},
    {"id": "t4", "app": "wechat", "app_name": "WeChat", "title": "妈妈", "body": "晚上回家吃饭吗？", "folder": "Personal", "priority": 2},
    {"id": "t5", "app": "shopee", "app_name": "Shopee", "title": "Flash sale", "body": "70% off now", "folder": "Promotions", "priority": 1},
    {"id": "t6", "app": "slack", "app_name": "Slack", "title": "#ops", "body": "Prod is down, please join the incident call", "folder": "Work", "priority": 3},
    {"id": "t7", "app": "zara", "app_name": "Zara", "title": "New in", "body": "Autumn collection is here", "folder": "Promotions", "priority": 1},
    {"id": "t8", "app": "uber", "app_name": "Uber", "title": "Your driver is arriving", "body": "Toyota Camry ABC123", "folder": "Alerts", "priority": 2},
    {"id": "t9", "app": "instagram", "app_name": "Instagram", "title": "New follower", "body": "anna started following you", "folder": "Personal", "priority": 1},
    {"id": "t10", "app": "telegram", "app_name": "Telegram", "title": "Mom", "body": "Call me when you land", "folder": "Personal", "priority": 2},
    {"id": "h1", "app": "gmail", "app_name": "Gmail", "title": "Slack", "body": "You have 3 unread messages in Slack", "folder": "Work", "priority": 1},
    {"id": "h2", "app": "alipay", "app_name": "支付宝", "title": "付款成功", "body": "您在淘宝的订单已付款 ¥59", "folder": "Alerts", "priority": 1},
] + [
    {"id": f"x{i}", "app": "slack", "app_name": "Slack", "title": f"msg {i}", "body": "can you review this?", "folder": "Work", "priority": 1 + i % 3}
    for i in range(40)
] + [
    {"id": f"z{i}", "app": "zara", "app_name": "Zara", "title": f"Sale {i}", "body": "up to 50% off", "folder": "Promotions", "priority": 1}
    for i in range(20)
] + [
    {"id": f"m{i}", "app": "telegram", "app_name": "Telegram", "title": "Mom", "body": f"dinner at {i}?", "folder": "Personal", "priority": 2}
    for i in range(12)
]

SPECIALS = {"<|im_start|>": 1000, "<|im_end|>": 1001}


def fake_encode(text: str, special: bool) -> list[int]:
    """Byte-level fake: the two special tokens become single ids only when special=True."""
    out, i = [], 0
    while i < len(text):
        for s, tid in SPECIALS.items():
            if special and text.startswith(s, i):
                out.append(tid)
                i += len(s)
                break
        else:
            out.extend(text[i].encode("utf-8"))
            i += 1
    return out
