"""Training data: load train.jsonl, split off a deterministic dev set, augment folder sets, build token examples.

No torch here: everything in this module is plain Python so it can be tested without the training extra.

Augmentation works per *batch*: a batch draws one folder set (+ optional user instructions), which fixes the
system prompt, so the prompt prefix is shared by the whole batch and its KV state is computed once. A
``Scenario`` maps each row to the label it has under that folder set, or ``None`` when the row does not fit
unambiguously (then the row is simply not used in that batch). No augmentation may produce a label that
contradicts the gold one:

* renamed / translated / code-named folders and paraphrased descriptions map the gold folder 1:1;
* shuffling changes nothing;
* subsets only drop folders other than the gold one (rows whose gold folder was dropped are skipped);
* specific folders (GitHub, Deliveries, Bills, Travel, ...) take a row only when rules on app and text say
  "yes"; rows the rules call "maybe" are skipped; "no" rows keep their default folder;
* instructions ("Anything from Slack is priority 3") change the label exactly as they say;
* planted injections in the text (``injection.py``) never change it: the label is taken from the original row.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Optional

from notifclf.folders import DEFAULT_FOLDERS, Folder
from notifclf.notification import Notification
from notifclf.prompt import build_prompt, training_answer

from .injection import inject

DEFAULT_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "notifai" / "train.jsonl"
DEFAULT_SEED_EMERGENT = DEFAULT_DATA.parent.parent / "seed_emergent.json"

DEFAULT_NAMES = tuple(f.name for f in DEFAULT_FOLDERS)  # Work, Personal, Promotions, Alerts


# ----------------------------------------------------------------------------------------------- load / split

def load_rows(path: str | Path) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if line:
                rows.append(json.loads(line))
    return rows


def is_dev(row_id: str) -> bool:
    """A row is dev iff sha1(id) % 10 == 0 (about 10%); never train on dev rows."""
    return int(hashlib.sha1(str(row_id).encode("utf-8")).hexdigest(), 16) % 10 == 0


def split_rows(rows: Sequence[dict]) -> tuple[list[dict], list[dict]]:
    train = [r for r in rows if not is_dev(r["id"])]
    dev = [r for r in rows if is_dev(r["id"])]
    return train, dev


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def ids_hash(ids: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(sorted(ids)).encode("utf-8")).hexdigest()


def notification_of(row: dict) -> Notification:
    return Notification(app=row.get("app_name") or row.get("app") or "", title=row.get("title") or "",
                        body=row.get("body") or "")


def row_text(row: dict) -> str:
    return f"{row.get('title') or ''} {row.get('body') or ''}".lower()


def row_app(row: dict) -> str:
    return (row.get("app_name") or row.get("app") or "").strip().lower()


# ------------------------------------------------------------------------------------ default folder variants

# Same meaning as the default folder, other name. (name, language) pairs; descriptions are chosen separately.
RENAMES: dict[str, list[str]] = {
    "Work": ["Job", "Office", "Career", "Business", "Professional", "Work stuff", "Team", "工作", "职场", "Trabajo",
             "Arbeit", "Travail", "仕事", "Lavoro", "Werk"],
    "Personal": ["Private", "Friends & Family", "Life", "Home", "Me", "Personal life", "个人", "私人", "Familia y amigos",
                 "Privat", "Perso", "プライベート", "Personale", "Persoonlijk"],
    "Promotions": ["Deals", "Marketing", "Offers", "Ads", "Promos", "Newsletters & deals", "Sales", "促销", "广告", "Ofertas",
                   "Angebote", "Promotions et offres", "セール", "Offerte", "Aanbiedingen"],
    "Alerts": ["Notices", "Notifications", "System", "Updates", "Account alerts", "Important", "提醒", "通知", "Alertas",
               "Hinweise", "Alertes", "お知らせ", "Avvisi", "Meldingen"],
}

PARAPHRASES: dict[str, list[str]] = {
    "Work": [
        "Job-related notifications (emails from colleagues, calendar invites, project updates, work apps like Slack, Jira)",
        "Anything about my job: colleagues, meetings, projects, code reviews, Slack, Jira, Teams",
        "Work messages and tools: coworkers, managers, clients, tickets, deploys, meeting invites",
        "My job: team chat, work email, project trackers, calendars and dev tools",
        "工作相关：同事和客户的消息、会议邀请、项目进展、Slack、Jira 等工作应用",
        "Trabajo: mensajes de colegas, reuniones, proyectos y herramientas de trabajo",
    ],
    "Personal": [
        "Family, friends, personal accounts, social media, messaging from personal contacts",
        "Friends and family, private chats, social networks and my own life outside work",
        "Messages from people I know personally, family group chats, social media activity",
        "Personal life: family, friends, dating, hobbies, social apps",
        "个人生活：家人朋友的消息、私人聊天、社交媒体",
        "Vida personal: familia, amigos, chats privados y redes sociales",
    ],
    "Promotions": [
        "Marketing, sales, deals, newsletters, advertisements, discount offers",
        "Ads, coupons, sales, discounts and marketing newsletters from brands and shops",
        "Offers and promotions: flash sales, discount codes, product launches, newsletters",
        "Anything trying to sell me something: deals, promo codes, marketing emails",
        "促销广告：打折、优惠券、营销推送、新闻简报",
        "Publicidad, ofertas, rebajas, cupones y boletines de marketing",
    ],
    "Alerts": [
        "System alerts, security, deliveries, bills, account notifications, reminders",
        "Automated account and system notices: security, deliveries, bills, payments, reminders",
        "Service notifications: package tracking, sign-in alerts, payments due, app and device updates, reminders",
        "Non-personal automatic alerts: banks, deliveries, security codes, bills, reminders",
        "系统和账户通知：安全提醒、快递、账单、付款、提醒事项",
        "Avisos automáticos: seguridad, entregas, facturas, cuentas y recordatorios",
    ],
}

# Two defaults merged into one folder (a user's "Life" = Personal + Promotions): both gold folders map to it.
MERGES: dict[tuple[str, str], list[tuple[str, str]]] = {
    ("Personal", "Promotions"): [
        ("Life", "Family, friends, shopping, promotions, everything personal"),
        ("Personal & shopping", "Friends and family, plus deals, sales and newsletters from shops"),
        ("生活", "家人朋友的消息，以及购物优惠和广告"),
    ],
    ("Promotions", "Alerts"): [
        ("Automated", "Automated messages: promotions, newsletters, account alerts, deliveries, bills"),
        ("From companies", "Anything sent by an app or a company rather than a person: alerts, deliveries, bills, ads"),
        ("系统与广告", "系统通知、账户提醒、快递、账单和促销广告"),
    ],
    ("Personal", "Alerts"): [
        ("My life", "My private life: family, friends, my own accounts, deliveries, bills, reminders"),
        ("Home & accounts", "Personal messages plus my own accounts: security, deliveries, bills"),
    ],
    ("Work", "Alerts"): [
        ("Work & systems", "Job-related messages and tools, plus system, security and account alerts"),
    ],
}

# Names that carry no meaning, so the model has to read the description.
CODE_NAME_SETS: list[list[str]] = [
    ["A", "B", "C", "D", "E", "F", "G", "H"],
    ["Folder 1", "Folder 2", "Folder 3", "Folder 4", "Folder 5", "Folder 6", "Folder 7", "Folder 8"],
    ["Blue", "Green", "Orange", "Purple", "Red", "Yellow", "Grey", "Pink"],
    ["Inbox-A", "Inbox-B", "Inbox-C", "Inbox-D", "Inbox-E", "Inbox-F", "Inbox-G", "Inbox-H"],
    ["甲", "乙", "丙", "丁", "戊", "己", "庚", "辛"],
    ["Box α", "Box β", "Box γ", "Box δ", "Box ε", "Box ζ", "Box η", "Box θ"],
]


# ----------------------------------------------------------------------------------------- specific folders

def _words(*ws: str) -> re.Pattern:
    return re.compile("|".join(ws), re.IGNORECASE)


@dataclass(frozen=True)
class Specific:
    """A specific folder with a rule: ``rule(row) -> "yes" | "maybe" | "no"``."""

    key: str
    names: tuple[str, ...]
    descriptions: tuple[str, ...]
    rule: Callable[[dict], str]


def _app_in(row: dict, apps: set[str]) -> bool:
    return row_app(row) in apps


_GITHUB_APPS = {"github"}
_CODE_WORDS = _words(r"pull request", r"\bPR\b", r"\bPRs\b", r"\bcommit", r"\brepo", r"\bmerge", r"\bbranch", r"\bCI\b",
                     r"github", r"gitlab", r"bitbucket", r"code review", r"build (failed|passed)", r"workflow run")


def _rule_github(row: dict) -> str:
    if _app_in(row, _GITHUB_APPS):
        return "yes"
    if _CODE_WORDS.search(row_text(row)) or row_app(row) in {"gitlab", "bitbucket", "circleci", "vercel", "netlify"}:
        return "maybe"
    return "no"


_INCIDENT_APPS = {"pagerduty", "datadog", "sentry", "opsgenie", "grafana", "new relic", "statuspage", "incident.io"}
_INCIDENT_WORDS = _words(r"outage", r"incident", r"\bdown\b", r"error rate", r"latency", r"\bsev\s?[0-3]", r"\bp[0-2]\b",
                         r"on-?call", r"alert(ing)? (fired|triggered)", r"\b5\d\d\b", r"degraded", r"rollback",
                         r"告警", r"故障", r"宕机")


def _rule_incidents(row: dict) -> str:
    app_match = _app_in(row, _INCIDENT_APPS)
    words = bool(_INCIDENT_WORDS.search(row_text(row)))
    if app_match and row["folder"] == "Work":
        return "yes"
    if app_match or (words and row["folder"] in ("Work", "Alerts")):
        return "maybe"
    return "no"


_CARRIER_APPS = {"fedex", "ups", "dhl", "usps", "顺丰", "顺丰速运", "菜鸟", "royal mail", "canada post", "auspost", "ontrac",
                 "aftership", "17track", "中通快递", "京东快递", "yunexpress"}
_SHOP_APPS = {"amazon", "shopee", "lazada", "walmart", "target", "aliexpress", "etsy", "ebay", "flipkart", "best buy", "temu",
              "shein", "costco", "wish", "taobao", "淘宝", "京东", "jd", "拼多多", "newegg", "wayfair", "myntra", "home depot",
              "alibaba", "overstock", "poshmark", "depop", "mercari", "zalando", "asos", "ikea"}
_DELIVERY_WORDS = _words(r"refund", r"shipped", r"delivered", r"out for delivery", r"\bdelivery\b", r"package", r"parcel", r"tracking",
                         r"your order", r"order #", r"order has", r"in transit", r"courier", r"pick ?up", r"arriv",
                         r"快递", r"包裹", r"发货", r"派送", r"签收", r"物流", r"配送", r"取件")


def _rule_deliveries(row: dict) -> str:
    words = bool(_DELIVERY_WORDS.search(row_text(row)))
    if re.search(r"refund|return", row_text(row)):
        return "maybe"
    if row["folder"] == "Alerts" and (_app_in(row, _CARRIER_APPS) or (words and _app_in(row, _SHOP_APPS))):
        return "yes"
    if _app_in(row, _CARRIER_APPS) or words or (_app_in(row, _SHOP_APPS) and row["folder"] != "Promotions"):
        return "maybe"
    return "no"


_SECURITY_WORDS = _words(r"log-?in", r"sign-?in", r"signed in", r"new device", r"password", r"verification code",
                         r"\bverify", r"\b2fa\b", r"two-factor", r"suspicious", r"unusual activity", r"security",
                         r"\botp\b", r"one-time (pass)?code", r"unauthori[sz]ed", r"fraud", r"locked",
                         r"验证码", r"登录", r"密码", r"安全", r"异地", r"账号异常")
_SECURITY_APPS = {"okta", "authy", "google authenticator", "microsoft authenticator", "1password", "lastpass", "duo",
                  "duo mobile", "bitwarden", "norton", "mcafee"}


def _rule_security(row: dict) -> str:
    words = bool(_SECURITY_WORDS.search(row_text(row)))
    if row["folder"] == "Alerts" and (words or _app_in(row, _SECURITY_APPS)):
        return "yes"
    if words or _app_in(row, _SECURITY_APPS):
        return "maybe"
    return "no"


_BILL_WORDS = _words(r"\bbill\b", r"\bbills\b", r"billing", r"payment due", r"\bis due\b", r"\bdue (on|by|in|date|today|tomorrow)",
                     r"amount due", r"invoice", r"statement", r"autopay", r"auto-pay", r"overdue", r"renewal", r"renews",
                     r"账单", r"还款", r"缴费", r"欠费", r"续费", r"话费", r"电费", r"水费")
_BILL_MAYBE = _words(r"\bdue\b", r"charged", r"subscription", r"renew", r"payment", r"扣款", r"fee")
# In an automated notice (gold Alerts) these read as money owed or a paid plan too: rent, fines, fares, usage, upgrades.
_BILL_MAYBE_NOTICE = _words(r"charge", r"receipt", r"\bfare\b", r"\bfine\b", r"\btax", r"\bcredits?\b", r"upgrade",
                            r"\bplan\b", r"\busage\b", r"payslip", r"租金", r"房租", r"费用", r"工资单", r"税")


def _rule_bills(row: dict) -> str:
    text = row_text(row)
    words = bool(_BILL_WORDS.search(text))
    if words and row["folder"] == "Alerts" and not _SECURITY_WORDS.search(text):
        return "yes"
    if (words or _BILL_MAYBE.search(text) or _app_in(row, _FINANCE_APPS)
            or row["folder"] == "Alerts" and _BILL_MAYBE_NOTICE.search(text)):
        return "maybe"
    return "no"


_FINANCE_APPS = {"ally bank", "ally", "loan manager", "moneygram", "chase mobile", "chase", "wells fargo", "bank of america", "capital one", "american express", "amex", "paypal",
                 "venmo", "coinbase", "robinhood", "google pay", "revolut", "hsbc mobile", "hsbc", "payoneer", "cash app",
                 "zelle", "alipay", "支付宝", "招商银行", "工商银行", "建设银行", "citi mobile", "citi", "discover", "monzo",
                 "n26", "wise", "mint", "schwab", "fidelity", "e*trade", "binance", "apple pay", "apple card", "us bank",
                 "ally", "sofi", "chime", "td bank", "barclays", "santander"}
_MONEY_WORDS = _words(r"payment", r"transaction", r"deposit", r"balance", r"\bbank", r"card ending", r"withdraw",
                      r"transfer", r"refund", r"\$\d", r"€\d", r"¥\d", r"收款", r"转账", r"余额", r"到账", r"支付", r"银行")


def _rule_finance(row: dict) -> str:
    app_match = _app_in(row, _FINANCE_APPS)
    words = bool(_MONEY_WORDS.search(row_text(row))) or bool(_BILL_WORDS.search(row_text(row)))
    if app_match and row["folder"] in ("Alerts", "Personal"):
        return "yes"
    if app_match or words:
        return "maybe"
    return "no"


_SOCIAL_APPS = {"instagram", "facebook", "twitter", "x", "tiktok", "snapchat", "reddit", "pinterest", "tumblr", "weibo",
                "微博", "小红书", "threads", "bereal", "mastodon", "bluesky", "douyin", "抖音", "vk", "youtube"}
_SOCIAL_WORDS = _words(r"\bliked?\b", r"\blikes\b", r"followed", r"follower", r"mentioned", r"commented", r"friend request",
                       r"tagged", r"retweet", r"reposted", r"朋友圈", r"点赞", r"关注", r"评论")


def _rule_social(row: dict) -> str:
    app_match = _app_in(row, _SOCIAL_APPS)
    if app_match and row["folder"] == "Personal":
        return "yes"
    if app_match or _SOCIAL_WORDS.search(row_text(row)) or row_app(row) in {"linkedin", "messenger", "facebook messenger",
                                                                             "discord", "twitch"}:
        return "maybe"
    return "no"


_TRAVEL_APPS = {"uber", "lyft", "airbnb", "booking.com", "expedia", "kayak", "delta", "united airlines", "united",
                "american airlines", "southwest", "marriott", "marriott bonvoy", "hilton", "hilton honors", "trip.com",
                "携程", "滴滴", "didi", "grab", "tripadvisor", "hopper", "skyscanner", "ryanair", "easyjet", "lufthansa",
                "british airways", "emirates", "amtrak", "trainline", "hotels.com", "agoda", "vrbo", "google maps", "waze",
                "12306", "飞猪", "bolt", "citymapper"}
_TRAVEL_WORDS = _words(r"flight", r"boarding", r"\bgate\b", r"check-?in", r"hotel", r"itinerary", r"\btrip\b",
                       r"your (ride|driver)", r"\bairport", r"layover", r"航班", r"登机", r"酒店", r"行程", r"值机", r"火车票")


def _rule_travel(row: dict) -> str:
    app_match = _app_in(row, _TRAVEL_APPS)
    words = bool(_TRAVEL_WORDS.search(row_text(row)))
    if row["folder"] in ("Alerts", "Personal") and (app_match or (words and row["folder"] == "Alerts")):
        return "yes"
    if app_match or words:
        return "maybe"
    return "no"


_FOOD_APPS = {"uber eats", "doordash", "grubhub", "postmates", "instacart", "zomato", "swiggy", "deliveroo", "美团",
              "饿了么", "just eat", "foodpanda", "gopuff", "seamless", "caviar"}


def _rule_food(row: dict) -> str:
    if _app_in(row, _FOOD_APPS):
        return "yes" if row["folder"] in ("Alerts", "Personal") else "maybe"
    if _words(r"your food", r"restaurant", r"\bdriver\b", r"takeout", r"外卖", r"骑手").search(row_text(row)):
        return "maybe"
    return "no"


_HEALTH_APPS = {"fitbit", "health", "apple health", "strava", "myfitnesspal", "cvs", "cvs pharmacy", "walgreens", "headspace",
                "calm", "zocdoc", "oura", "whoop", "garmin connect", "nike run club", "peloton", "flo", "medisafe",
                "keep", "薄荷健康", "平安好医生", "one medical", "mychart", "teladoc"}
_HEALTH_WORDS = _words(r"prescription", r"doctor", r"dentist", r"medication", r"medicine", r"workout", r"\bsteps\b",
                       r"\bpharmacy", r"clinic", r"\blab results", r"health", r"\bcalories", r"体检", r"医院", r"挂号", r"药")


def _rule_health(row: dict) -> str:
    app_match = _app_in(row, _HEALTH_APPS)
    words = bool(_HEALTH_WORDS.search(row_text(row)))
    if app_match and row["folder"] in ("Alerts", "Personal"):
        return "yes"
    if app_match or words:
        return "maybe"
    return "no"


_APPOINTMENT_WORDS = _words(r"appointment", r"dentist", r"doctor'?s", r"reservation", r"booking confirmed",
                            r"haircut", r"salon", r"\bvet\b", r"预约", r"挂号", r"订座")
_APPOINTMENT_MAYBE = _words(r"\bbooked\b", r"\bbooking\b", r"schedule", r"surgery", r"hospital", r"clinic")
# In an automated notice (gold Alerts) these are reservations or booked slots too: hotel stays, pick-ups, home visits.
_APPOINTMENT_MAYBE_NOTICE = _words(r"\bstay\b", r"check.?in", r"pick.?up", r"预订", r"订位", r"预定", r"上门")


def _rule_appointments(row: dict) -> str:
    text = row_text(row)
    words = bool(_APPOINTMENT_WORDS.search(text))
    if words and row["folder"] in ("Alerts", "Personal") and not _TRAVEL_WORDS.search(text):
        return "yes"
    if (words or _APPOINTMENT_MAYBE.search(text) or _app_in(row, _HEALTH_APPS)
            or row_app(row) in {"calendly", "opentable", "zocdoc", "google calendar", "calendar", "outlook"}
            or row["folder"] == "Alerts" and _APPOINTMENT_MAYBE_NOTICE.search(text)):
        return "maybe"
    return "no"


_STREAM_APPS = {"netflix", "hulu", "spotify", "disney+", "youtube", "audible", "twitch", "hbo max", "max", "prime video",
                "apple music", "apple tv", "crunchyroll", "bilibili", "哔哩哔哩", "爱奇艺", "网易云音乐", "qq音乐", "deezer",
                "tidal", "pandora", "paramount+", "peacock", "kindle"}


def _rule_streaming(row: dict) -> str:
    if _app_in(row, _STREAM_APPS):
        return "yes" if row["folder"] in ("Alerts", "Personal") else "maybe"
    return "no"


_MEETING_WORDS = _words(r"meeting", r"calendar", r"invite", r"invitation", r"stand-?up", r"\b1:1\b", r"\bzoom\b",
                        r"\bsync\b", r"rescheduled", r"starts in", r"会议", r"开会", r"日程")
_MEETING_APPS = {"google calendar", "calendar", "outlook calendar", "zoom", "calendly", "google meet", "webex", "腾讯会议",
                 "飞书日历"}


def _rule_meetings(row: dict) -> str:
    if _app_in(row, _MEETING_APPS) and row["folder"] == "Work":
        return "yes"
    if _app_in(row, _MEETING_APPS) or _MEETING_WORDS.search(row_text(row)):
        return "maybe"
    return "no"


SPECIFICS: tuple[Specific, ...] = (
    Specific("github", ("GitHub", "Code", "Dev", "代码", "GitHub notifications"),
             ("Everything from GitHub: pull requests, reviews, issues, CI runs, releases",
              "GitHub notifications (PRs, issues, code reviews, Actions builds)",
              "来自 GitHub 的通知：PR、issue、代码评审、CI"), _rule_github),
    Specific("incidents", ("Incidents", "On-call", "Monitoring", "线上告警", "Pages"),
             ("Production incidents and monitoring alerts: PagerDuty, Datadog, Sentry, outages, on-call pages",
              "On-call: pages, outages, error spikes from monitoring tools",
              "线上故障和监控告警：PagerDuty、Datadog、Sentry"), _rule_incidents),
    Specific("deliveries", ("Deliveries", "Packages", "Shipping", "Orders", "快递", "Lieferungen", "Envíos"),
             ("Package tracking, shipping and delivery updates for things I ordered",
              "Order shipped, out for delivery, delivered, courier and parcel tracking",
              "快递物流：发货、派送、签收、包裹追踪"), _rule_deliveries),
    Specific("security", ("Security", "Account security", "Logins", "安全", "Sicherheit", "Seguridad"),
             ("Sign-in alerts, verification codes, password changes, suspicious activity on my accounts",
              "Security notices: new logins, 2FA codes, password resets, fraud warnings",
              "账号安全：登录提醒、验证码、密码修改、异常活动"), _rule_security),
    Specific("bills", ("Bills", "Payments due", "Invoices", "账单", "Rechnungen", "Facturas"),
             ("Bills, invoices, statements, payment due dates, subscriptions and renewals",
              "Anything I have to pay: bills, due dates, autopay, invoices",
              "账单和缴费：还款提醒、发票、扣款、续费"), _rule_bills),
    Specific("finance", ("Finance", "Money", "Banking", "财务", "Finanzen", "Finanzas"),
             ("Banking, payments, investments, bills, transactions",
              "Bank and payment apps: transfers, card transactions, balances, investments",
              "银行和支付：转账、收款、余额、投资"), _rule_finance),
    Specific("social", ("Social", "Social media", "社交", "Soziale Medien", "Redes sociales"),
             ("Social media, friend requests, likes, comments, mentions",
              "Activity on social networks: followers, likes, comments, tags (not private chats)",
              "社交媒体动态：点赞、评论、关注、好友请求"), _rule_social),
    Specific("travel", ("Travel", "Trips", "出行", "旅行", "Reisen", "Viajes"),
             ("Flights, hotels, transportation, trip updates, boarding passes",
              "Trips and getting around: rides, flights, hotel stays, bookings",
              "出行旅行：航班、酒店、打车、行程变动"), _rule_travel),
    Specific("food", ("Food", "Food delivery", "外卖", "Essen", "Comida"),
             ("Food delivery and grocery apps: order status, driver updates",
              "Takeout and groceries: Uber Eats, DoorDash, Instacart and similar",
              "外卖和生鲜配送：订单状态、骑手动态"), _rule_food),
    Specific("health", ("Health", "Fitness", "健康", "Gesundheit", "Salud"),
             ("Medical appointments, fitness apps, health reminders, medication",
              "Health and fitness: workouts, pharmacy, doctors, wellness apps",
              "健康：运动、药品、就医、健康提醒"), _rule_health),
    Specific("appointments", ("Appointments", "Bookings", "预约", "Termine", "Citas"),
             ("Appointments and reservations: doctor, dentist, salon, restaurant bookings",
              "Booked appointments and their reminders or changes",
              "预约和订座：医生、牙医、理发、餐厅"), _rule_appointments),
    Specific("streaming", ("Entertainment", "Streaming", "Media", "娱乐", "Unterhaltung"),
             ("Streaming, music, video and audiobook apps: new episodes, playlists, account notices",
              "Netflix, Spotify, YouTube and similar entertainment apps",
              "娱乐：视频、音乐、有声书应用"), _rule_streaming),
    Specific("meetings", ("Meetings", "Calendar", "会议", "Besprechungen", "Reuniones"),
             ("Calendar invites, meeting reminders and schedule changes",
              "Meetings: invites, reschedules, starting-soon reminders",
              "会议和日程：邀请、提醒、改期"), _rule_meetings),
)
SPECIFIC_BY_KEY = {s.key: s for s in SPECIFICS}

OTHER_FOLDER = (("Other", "Everything that fits none of the other folders"),
                ("Misc", "Anything else"),
                ("其他", "不属于其他文件夹的所有通知"))


# -------------------------------------------------------------------------------------------------- scenarios

@dataclass
class Scenario:
    """A folder set (+ instructions) and the rule that maps a row to its label under it."""

    folders: tuple[Folder, ...]
    instructions: str = ""
    default_map: dict[str, Optional[str]] = field(default_factory=dict)  # gold default name -> folder name or None
    specifics: dict[str, str] = field(default_factory=dict)               # specific key -> folder name
    other: Optional[str] = None                                          # catch-all folder name
    app_priority: Optional[tuple[str, int]] = None                       # (app lower, priority) from instructions
    app_folder: Optional[tuple[str, str]] = None                         # (app lower, folder name) from instructions
    kind: str = "default"

    def label(self, row: dict, statuses: Optional[dict[str, str]] = None) -> Optional[tuple[str, int]]:
        """The (folder, priority) of ``row`` under this scenario, or None when it does not fit unambiguously."""
        priority = int(row["priority"])
        app = row_app(row)
        if self.app_priority and app == self.app_priority[0]:
            priority = self.app_priority[1]
        if self.app_folder and app == self.app_folder[0]:
            return self.app_folder[1], priority
        statuses = statuses if statuses is not None else row_statuses(row)
        hits = []
        for key, name in self.specifics.items():
            st = statuses[key]
            if st == "maybe":
                return None
            if st == "yes":
                hits.append(name)
        if len(hits) > 1:
            return None
        if hits:
            return hits[0], priority
        mapped = self.default_map.get(row["folder"])
        if mapped is not None:
            return mapped, priority
        if self.other is not None and row["folder"] not in self.default_map:
            # The row's default folder is not in the set and no specific folder fits it.
            return self.other, priority
        return None


def row_statuses(row: dict) -> dict[str, str]:
    return {s.key: s.rule(row) for s in SPECIFICS}


def default_scenario() -> Scenario:
    return Scenario(folders=DEFAULT_FOLDERS, default_map={n: n for n in DEFAULT_NAMES}, kind="default")


def renamed_default_scenario(names: dict[str, str]) -> Scenario:
    """The default folders with the same descriptions, renamed (e.g. Job/Private/Deals/Notices)."""
    folders = tuple(Folder(names.get(f.name, f.name), f.description) for f in DEFAULT_FOLDERS)
    return Scenario(folders=folders, default_map={n: names.get(n, n) for n in DEFAULT_NAMES}, kind="renamed")


def _unique(names: list[str]) -> bool:
    return len({n.casefold() for n in names}) == len(names)


def sample_scenario(rng: random.Random, apps: Sequence[str] = ()) -> Scenario:
    """Draw a folder set for one batch. The mix favours the plain defaults, then transforms and specific folders."""
    r = rng.random()
    if r < 0.22:
        sc = default_scenario()
    elif r < 0.32:
        sc = _renamed_same_descriptions(rng)
    elif r < 0.55:
        sc = _transformed_defaults(rng, with_specifics=False)
    elif r < 0.88:
        sc = _transformed_defaults(rng, with_specifics=True)
    else:
        sc = _specific_only(rng)
    if apps and rng.random() < 0.15:
        _add_instruction(sc, rng, apps)
    return sc


def _renamed_same_descriptions(rng: random.Random) -> Scenario:
    """All four defaults renamed, their descriptions kept word for word, so only the descriptions say which is which."""
    if rng.random() < 0.2:
        names = rng.sample(rng.choice(CODE_NAME_SETS), len(DEFAULT_NAMES))
    else:
        names = [rng.choice(RENAMES[n]) for n in DEFAULT_NAMES]
    if not _unique(names):
        return default_scenario()
    sc = renamed_default_scenario(dict(zip(DEFAULT_NAMES, names)))
    if rng.random() < 0.5:
        folders = list(sc.folders)
        rng.shuffle(folders)
        sc = replace(sc, folders=tuple(folders))
    return sc


def _transformed_defaults(rng: random.Random, with_specifics: bool) -> Scenario:
    names = list(DEFAULT_NAMES)
    mode = rng.random()
    code_names = rng.sample(rng.choice(CODE_NAME_SETS), 8) if mode < 0.15 else None  # no name tied to a meaning
    mapping: dict[str, str] = {}
    descs: dict[str, str] = {}
    for i, n in enumerate(names):
        if code_names is not None:
            mapping[n] = code_names[i]
        elif mode < 0.55 and rng.random() < 0.7:
            mapping[n] = rng.choice(RENAMES[n])
        else:
            mapping[n] = n
        descs[n] = rng.choice(PARAPHRASES[n]) if rng.random() < 0.6 else dict((f.name, f.description) for f in DEFAULT_FOLDERS)[n]
    keep = list(names)
    if rng.random() < 0.35:  # subset: drop 1-2 default folders
        k = rng.choice([1, 1, 2])
        for n in rng.sample(names, k):
            keep.remove(n)
    merged = [pair for pair in MERGES if code_names is None and set(pair) <= set(keep)]
    absorbed: set[str] = set()
    if merged and rng.random() < 0.2:
        pair = rng.choice(merged)
        name, desc = rng.choice(MERGES[pair])
        for n in pair:
            mapping[n] = name
            descs[n] = desc
        keep.remove(pair[1])
        absorbed.add(pair[1])
    folders = [Folder(mapping[n], descs[n]) for n in keep]
    specifics: dict[str, str] = {}
    if with_specifics:
        k = rng.choice([1, 1, 2, 2, 3, 4])
        for s in rng.sample(SPECIFICS, k):
            name = s.names[0] if rng.random() < 0.6 else rng.choice(s.names)
            specifics[s.key] = name
            folders.append(Folder(name, rng.choice(s.descriptions)))
    if code_names is not None and specifics:
        # keep code names meaningless for the specifics too
        extra = code_names[4: 4 + len(specifics)]
        for (key, _), new in zip(list(specifics.items()), extra):
            old = specifics[key]
            specifics[key] = new
            folders = [Folder(new, f.description) if f.name == old else f for f in folders]
    if not _unique([f.name for f in folders]):
        return default_scenario()
    rng.shuffle(folders) if rng.random() < 0.7 else None
    default_map = {n: (mapping[n] if n in keep or n in absorbed else None) for n in names}
    return Scenario(folders=tuple(folders), default_map=default_map, specifics=specifics,
                    kind=("specific" if specifics else "transformed") + ("+merged" if absorbed else ""))


def _specific_only(rng: random.Random) -> Scenario:
    k = rng.choice([3, 4, 5, 5, 6])
    chosen = rng.sample(SPECIFICS, k)
    folders = []
    specifics = {}
    for s in chosen:
        name = s.names[0] if rng.random() < 0.7 else rng.choice(s.names)
        specifics[s.key] = name
        folders.append(Folder(name, rng.choice(s.descriptions)))
    other = None
    default_map: dict[str, Optional[str]] = {n: None for n in DEFAULT_NAMES}
    r = rng.random()
    if r < 0.4:
        oname, odesc = rng.choice(OTHER_FOLDER)
        other = oname
        folders.append(Folder(oname, odesc))
        default_map = {}
    elif r < 0.7:
        # keep one or two defaults next to the specifics
        for n in rng.sample(DEFAULT_NAMES, rng.choice([1, 2])):
            default_map[n] = n
            folders.append(next(f for f in DEFAULT_FOLDERS if f.name == n))
    if not _unique([f.name for f in folders]):
        return default_scenario()
    rng.shuffle(folders)
    return Scenario(folders=tuple(folders), default_map=default_map, specifics=specifics, other=other,
                    kind="specific_only")


_PRIO_INSTR = {
    3: ["Anything from {app} is priority 3.", "{app} notifications are always urgent (priority 3).",
        "来自 {app} 的通知一律是优先级 3。", "Treat every {app} notification as needing attention now."],
    1: ["{app} notifications can always wait: priority 1.", "Anything from {app} is low priority (1).",
        "来自 {app} 的通知都不急，优先级 1。", "Never mark {app} as urgent; it is always priority 1."],
    2: ["Everything from {app} is priority 2.", "来自 {app} 的通知统一为优先级 2。"],
}
_FOLDER_INSTR = ["Put everything from {app} in {folder}.", "All {app} notifications go to {folder}.",
                 "{app} 的通知都放进 {folder}。"]


def _add_instruction(sc: Scenario, rng: random.Random, apps: Sequence[str]) -> None:
    app = rng.choice(list(apps))
    lines = []
    if rng.random() < 0.6:
        p = rng.choice([3, 3, 1, 1, 2])
        lines.append(rng.choice(_PRIO_INSTR[p]).format(app=app))
        sc.app_priority = (app.lower(), p)
    else:
        folder = rng.choice(sc.folders).name
        lines.append(rng.choice(_FOLDER_INSTR).format(app=app, folder=folder))
        sc.app_folder = (app.lower(), folder)
    if rng.random() < 0.3:
        lines.append(rng.choice(["Promotions are never urgent.", "I don't mind notifications at night.",
                                 "I am a software engineer.", "我在上学，周末不上班。"]))
    sc.instructions = "\n".join(lines)
    sc.kind += "+instr"


# ----------------------------------------------------------------------------------------------- tokenizing

@dataclass
class Example:
    """One training example after the shared prefix: ``ids`` = user + suffix + answer tokens."""

    ids: list[int]
    n_answer: int      # the last n_answer ids are the answer (+ end-of-turn) and carry the loss
    folder: str
    priority: int


class ExampleBuilder:
    """Tokenizes prompts exactly like the runtime: prefix (special tokens parsed), user (not parsed), suffix (parsed).

    ``encode(text, special: bool) -> list[int]`` is injected so this class needs no HF import and can be tested
    with a fake tokenizer.
    """

    def __init__(self, template: str | None, encode: Callable[[str, bool], list[int]], eot_ids: list[int],
                 max_user_tokens: int = 160):
        self.template = template
        self.encode = encode
        self.eot_ids = list(eot_ids)
        self.max_user_tokens = max_user_tokens

    def pieces(self, folders: Sequence[Folder], instructions: str, row: dict):
        return build_prompt(self.template, folders, instructions, notification_of(row))

    def prefix_ids(self, folders: Sequence[Folder], instructions: str) -> list[int]:
        pieces = build_prompt(self.template, folders, instructions, Notification(title="x"))
        return self.encode(pieces.prefix, True)

    def example(self, folders: Sequence[Folder], instructions: str, row: dict, folder: str, priority: int) -> Example:
        pieces = self.pieces(folders, instructions, row)
        user = self.encode(pieces.user, False)[: self.max_user_tokens]
        suffix = self.encode(pieces.suffix, True)
        answer = self.encode(training_answer(folder, priority), False) + self.eot_ids
        return Example(ids=user + suffix + answer, n_answer=len(answer), folder=folder, priority=priority)


@dataclass
class Batch:
    scenario: Scenario
    prefix: list[int]
    examples: list[Example]
    row_ids: list[str]


class BatchSampler:
    """Deterministic batches: batch ``step`` depends only on (seed, step), so resuming needs no sampler state."""

    def __init__(self, rows: Sequence[dict], builder: ExampleBuilder, batch_size: int = 8, seed: int = 0,
                 p2_boost: float = 1.3, inject_rate: float = 0.0):
        self.inject_rate = inject_rate
        self.rows = [r for r in rows if not is_dev(r["id"])]  # never train on dev, whatever is passed in
        self.builder = builder
        self.batch_size = batch_size
        self.seed = seed
        self.statuses = [row_statuses(r) for r in self.rows]
        self.weights = [p2_boost if int(r["priority"]) == 2 else 1.0 for r in self.rows]
        self.yes_pools = {s.key: [i for i, st in enumerate(self.statuses) if st[s.key] == "yes"] for s in SPECIFICS}
        counts: dict[str, int] = {}
        for r in self.rows:
            counts[r.get("app_name") or ""] = counts.get(r.get("app_name") or "", 0) + 1
        self.apps = sorted(a for a, c in counts.items() if c >= 15 and a)
        self.by_app: dict[str, list[int]] = {}
        for i, r in enumerate(self.rows):
            self.by_app.setdefault(row_app(r), []).append(i)

    def labelled(self, sc: Scenario, i: int) -> Optional[tuple[str, int]]:
        return sc.label(self.rows[i], self.statuses[i])

    def batch(self, step: int) -> Batch:
        rng = random.Random(f"{self.seed}:{step}")
        for _attempt in range(20):
            sc = sample_scenario(rng, self.apps)
            picked: list[tuple[int, tuple[str, int]]] = []
            seen: set[int] = set()
            tries = 0
            while len(picked) < self.batch_size and tries < self.batch_size * 60:
                tries += 1
                u = rng.random()
                if sc.specifics and u < 0.5:
                    pool = self.yes_pools[rng.choice(list(sc.specifics))]
                    if not pool:
                        continue
                    i = rng.choice(pool)
                elif (sc.app_priority or sc.app_folder) and u < 0.7:
                    app = (sc.app_priority or sc.app_folder)[0]
                    i = rng.choice(self.by_app.get(app, [0]))
                else:
                    i = rng.choices(range(len(self.rows)), weights=self.weights)[0]
                if i in seen:
                    continue
                lab = self.labelled(sc, i)
                if lab is None:
                    continue
                seen.add(i)
                picked.append((i, lab))
            if len(picked) >= max(2, self.batch_size // 2):
                break
        names = [f.name for f in sc.folders]
        examples = []
        for i, (f, p) in picked:
            row = self.rows[i]
            if self.inject_rate and rng.random() < self.inject_rate:
                row = inject(row, rng, names, (f, p))  # the label (f, p) comes from the original row
            examples.append(self.builder.example(sc.folders, sc.instructions, row, f, p))
        return Batch(scenario=sc, prefix=self.builder.prefix_ids(sc.folders, sc.instructions), examples=examples,
                     row_ids=[self.rows[i]["id"] for i, _ in picked])


def load_seed_emergent(path: str | Path) -> tuple[tuple[Folder, ...], list[dict]]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    folders = tuple(Folder(f["name"], f["description"]) for f in data["folders"])
    cases = [dict(c, app_name=c.get("app", "")) for c in data["cases"]]
    return folders, cases
