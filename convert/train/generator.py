"""Notifications of our own for everyday categories that train.jsonl covers thinly (school, weather, utilities...).

Each category has apps and templates ``(title, body, priority)`` with slots filled at random (people, times,
amounts, places), in English and Chinese. A generated row carries its category (``category_key``) and the
default folder such a notification gets, gets an id ``gen-<category>-<n>`` and is used for training only: never in
the dev split, never in an evaluation figure. Held-out categories are never generated.
"""

from __future__ import annotations

import random
from collections.abc import Mapping

from .holdout import HELD_OUT_CATEGORIES
from .taxonomy import Taxonomy

T = tuple[str, str, int]

TEMPLATES: dict[str, tuple[tuple[str, ...], tuple[T, ...]]] = {
    "school": (("ClassDojo", "Remind", "ParentSquare", "Seesaw", "钉钉家校", "Schoology"), (
        ("{teacher}", "Reminder: field trip permission slip due {day}. Please sign in the app.", 2),
        ("Lincoln Elementary", "School closed {day} due to weather. Remote learning packets online.", 3),
        ("{teacher}", "{kid} did great in math today! ⭐", 1),
        ("{teacher}", "{kid} seems unwell and is at the nurse's office. Please call the school.", 3),
        ("班主任{surname}老师", "明天{time}家长会，请准时参加。", 2),
        ("家长群", "本周五学校运动会，孩子需穿白色运动服。", 1),
        ("PTA Newsletter", "Bake sale next week, volunteers wanted!", 1))),
    "weather": (("Weather", "AccuWeather", "Weather Channel", "墨迹天气", "Yahoo Weather"), (
        ("Severe weather warning", "Tornado warning for {city} until {time}. Take shelter now.", 3),
        ("Rain expected", "Rain starting around {time} in {city}. Take an umbrella.", 1),
        ("Heat advisory", "Temperatures up to 39°C in {city} {day}. Stay hydrated.", 2),
        ("暴雨预警", "{city}发布暴雨橙色预警，请减少外出。", 3),
        ("Daily forecast", "{city}: partly cloudy, high 21°, low 12°.", 1))),
    "utilities": (("Xfinity", "PG&E", "Con Edison", "国家电网", "Thames Water", "Spectrum"), (
        ("Bill ready", "Your {month} bill of ${amount} is ready. Due {day}.", 2),
        ("Outage in your area", "Power outage reported near {street}. Estimated restore {time}.", 3),
        ("Payment received", "Thanks! We received your payment of ${amount}.", 1),
        ("电费提醒", "您的电费余额不足{amount}元，请及时缴费以免停电。", 2),
        ("Planned maintenance", "Internet service maintenance {day} 1-4 AM.", 1))),
    "housing": (("Zillow", "Apartments.com", "Rightmove", "贝壳找房", "Building Link", "Landlord"), (
        ("{landlord}", "Hi, rent for {month} is due on the 1st. Please transfer ${amount}.", 2),
        ("New listing", "2-bed apartment near {street}, ${amount}/mo. Tour available {day}.", 1),
        ("Maintenance request", "Your repair request #{n} is scheduled for {day} {time}.", 2),
        ("房东", "下个月房租{amount}元，月底前转给我，谢谢。", 2),
        ("Building notice", "Water will be shut off {day} 9am-noon for pipe repair.", 2))),
    "smart_home": (("Ring", "Nest", "SmartThings", "Arlo", "米家", "Wyze"), (
        ("Motion at Front Door", "Motion detected at your front door at {time}.", 2),
        ("Someone is at your door", "{name} pressed the doorbell.", 3),
        ("Thermostat", "Indoor temperature dropped to 14°C. Heating is off.", 2),
        ("Smoke alarm", "Smoke detected in the kitchen! Check immediately.", 3),
        ("米家", "客厅摄像头检测到有人移动（{time}）。", 2),
        ("Device offline", "Back Garden camera went offline.", 1))),
    "pets": (("Chewy", "Petco", "Rover", "PetSmart", "Vet Clinic"), (
        ("Autoship reminder", "Your dog food order ships in 3 days. Edit before {day}.", 1),
        ("Vaccination due", "{pet} is due for a rabies booster. Book a visit.", 2),
        ("{name} (Rover sitter)", "{pet} had a great walk! Photos inside 🐾", 1),
        ("20% off treats", "Spoil {pet}: 20% off all treats this weekend.", 1))),
    "insurance": (("GEICO", "State Farm", "Allstate", "Progressive", "平安保险", "Lemonade"), (
        ("Policy renewal", "Your auto policy renews on {day}. Premium ${amount}.", 2),
        ("Claim update", "Your claim #{n} was approved. Payment of ${amount} on the way.", 2),
        ("Payment failed", "We couldn't process your premium. Update payment to avoid cancellation.", 3),
        ("保单续保提醒", "您的车险将于{day}到期，请及时续保。", 2),
        ("ID cards", "Your new insurance ID cards are ready in the app.", 1))),
    "government_tax": (("IRS", "HMRC", "DMV", "个人所得税", "USCIS", "Gov.uk"), (
        ("Refund issued", "Your tax refund of ${amount} has been issued.", 2),
        ("Action required", "Your license renewal is due by {day}. Renew online.", 2),
        ("Jury duty", "You have been summoned for jury service on {day}.", 3),
        ("个税提醒", "年度个税汇算将于{day}截止，请尽快办理。", 2),
        ("Case status update", "Your case {code} status changed: documents received.", 2))),
    "telecom": (("T-Mobile", "Verizon", "Vodafone", "中国移动", "AT&T", "Mint Mobile"), (
        ("Data usage", "You've used 90% of your data. Add more to keep browsing.", 2),
        ("Bill ready", "Your bill of ${amount} is ready. Autopay on {day}.", 1),
        ("中国移动", "尊敬的客户，您本月流量已用完，超出部分按量计费。", 2),
        ("Roaming", "Welcome to {country}! Day pass $10/day applies.", 1),
        ("Upgrade offer", "You're eligible for a new phone: $0 down.", 1))),
    "car": (("Tesla", "FordPass", "Jiffy Lube", "AutoZone", "蔚来", "MyBMW"), (
        ("Charging complete", "Your car is charged to 80%. Move it to avoid idle fees.", 2),
        ("Service due", "Oil change due in 300 miles. Book a slot.", 2),
        ("Tire pressure low", "Front left tire pressure low (26 psi). Check soon.", 3),
        ("充电完成", "车辆已充电至90%，请及时挪车。", 2),
        ("Recall notice", "A safety recall affects your vehicle. Schedule a free repair.", 3))),
    "news": (("AP News", "Reuters", "BBC News", "The Guardian", "今日头条", "CNN"), (
        ("Breaking", "Earthquake of magnitude 6.1 strikes near {city}.", 2),
        ("Top stories", "Markets close higher; elections update; and more.", 1),
        ("突发新闻", "{city}发生地震，暂无人员伤亡报告。", 2),
        ("Election results", "Polls closed: live results from across the country.", 1))),
    "events_tickets": (("Ticketmaster", "Eventbrite", "Fandango", "大麦", "Dice", "StubHub"), (
        ("Your tickets", "Tickets for {band} on {day} are in your wallet.", 2),
        ("Event tomorrow", "Doors open {time} at {venue}. Bring your QR code.", 2),
        ("Presale starts now", "{band} presale is live for 2 hours.", 2),
        ("演出提醒", "您购买的演唱会门票将于{day}{time}开演，请提前入场。", 2),
        ("Event cancelled", "{band} at {venue} is cancelled. Refund in 5-7 days.", 3))),
    "medical": (("MyChart", "Zocdoc", "CVS Pharmacy", "Walgreens", "好大夫在线", "One Medical"), (
        ("Appointment reminder", "Dr. {surname}, {day} at {time}. Reply C to confirm.", 2),
        ("Your Rx is waiting", "Your prescription is ready for pickup.", 2),
        ("Test results available", "New lab results were posted to your chart.", 2),
        ("就诊提醒", "您预约的{surname}医生门诊在{day}{time}，请按时就诊。", 2),
        ("Refill reminder", "Time to refill your medication. 2 refills left.", 2))),
    "subscriptions": (("App Store", "Google Play", "Patreon Billing", "Apple ID", "Paddle", "爱奇艺会员"), (
        ("Subscription renewing", "Your yearly plan renews {day} for ${amount}.", 2),
        ("Receipt", "Receipt for your subscription: ${amount}.", 1),
        ("Payment declined", "We couldn't renew your membership. Update your card.", 3),
        ("会员续费", "您的会员将于{day}自动续费{amount}元。", 2),
        ("Free trial ending", "Your free trial ends tomorrow.", 2))),
    "reminders": (("Reminders", "Todoist", "TickTick", "Microsoft To Do", "滴答清单", "Google Tasks"), (
        ("Reminder", "Call {name} back", 2),
        ("Due today", "Renew passport", 2),
        ("Reminder", "Take out the trash", 1),
        ("提醒", "给{name}买生日礼物", 2),
        ("Overdue", "Pay parking ticket (overdue 2 days)", 3))),
    "device_system": (("Android System", "iOS", "Windows Update", "Settings", "系统更新", "macOS"), (
        ("Running out of space", "Free up space to keep taking photos.", 2),
        ("Update available", "A software update is ready to install tonight.", 1),
        ("Charge your phone", "10% battery remaining.", 2),
        ("系统更新", "新版本可用，建议在充电时更新。", 1),
        ("Restart required", "Restart to finish installing a security update.", 2))),
    "meetings": (("Google Calendar", "Zoom", "Outlook Calendar", "腾讯会议", "Calendly", "Webex"), (
        ("Starting in 5 min", "{meeting} with {name} at {time}", 3),
        ("Invitation", "{name} invited you to {meeting} on {day}", 2),
        ("Meeting moved", "{meeting} moved to {day} {time}", 2),
        ("会议提醒", "您预约的会议「{meeting}」将在10分钟后开始。", 3),
        ("New booking", "{name} booked a 30-min call on {day}.", 2))),
    "orders": (("Amazon", "Target", "Walmart", "京东", "淘宝", "Best Buy"), (
        ("Order confirmed", "Order #{n} confirmed. Arrives {day}.", 1),
        ("Shipped", "Your order #{n} has shipped.", 1),
        ("Refund processed", "Refund of ${amount} issued for order #{n}.", 2),
        ("包裹已出库", "您的订单{n}已发货，预计{day}送达。", 1),
        ("Delivery problem", "We couldn't deliver order #{n}. Action needed.", 3))),
    "transit_maps": (("Citymapper", "Transit", "Google Maps", "高德地图", "Trainline", "MTA"), (
        ("Delay on your line", "Line 4 delayed 15 min due to signal problems.", 2),
        ("Leave now", "Leave by {time} to arrive on time for {meeting}.", 2),
        ("Train cancelled", "The {time} train to {city} is cancelled.", 3),
        ("路况提醒", "前方道路拥堵，预计延误20分钟。", 2))),
    "sports_betting": (("ESPN", "theScore", "FanDuel", "DraftKings", "懂球帝", "BBC Sport"), (
        ("Final score", "Lakers 112 - Celtics 108", 1),
        ("Goal!", "{team} 1-0 in the 67th minute.", 1),
        ("Your bet won", "Your parlay won ${amount}!", 2),
        ("比赛开始", "您关注的{team}比赛即将开始。", 1))),
    "books": (("Kindle", "Goodreads", "Libby", "微信读书", "Audible Books", "Kobo"), (
        ("Your hold is ready", "Your library hold is ready to borrow for 3 days.", 2),
        ("New from an author you follow", "A new release you may like is out today.", 1),
        ("Reading goal", "You've read 12 of 24 books this year.", 1),
        ("书架更新", "你书架上的书有新章节更新。", 1))),
    "mindfulness": (("Headspace", "Calm", "BetterHelp", "Talkspace", "潮汐", "Insight Timer"), (
        ("Time to breathe", "Your 10-minute evening meditation is ready.", 1),
        ("Session reminder", "Your therapy session with {name} starts at {time}.", 2),
        ("New message from your therapist", "{name}: How have you been feeling this week?", 2),
        ("冥想提醒", "睡前放松一下，今晚的冥想已准备好。", 1))),
    "charity_causes": (("Patreon", "Kickstarter", "GoFundMe", "Red Cross", "Indiegogo", "腾讯公益"), (
        ("New post", "{name} shared a new post for patrons.", 1),
        ("Project update", "The project you backed shipped its rewards!", 1),
        ("Thank you", "Your donation of ${amount} helped 3 families.", 1),
        ("公益进展", "您捐助的项目有了新进展。", 1))),
    "customer_support": (("Zendesk", "Intercom", "Freshdesk", "Help Scout", "Front"), (
        ("New ticket #{n}", "{name}: I can't log in to my account since yesterday.", 2),
        ("Ticket escalated", "Ticket #{n} from a VIP customer breached SLA.", 3),
        ("New chat", "A visitor is waiting in live chat.", 2),
        ("Satisfaction rating", "{name} rated your reply 'Great'.", 1))),
    "newsletters": (("Substack", "Medium", "Morning Brew", "The Hustle", "Beehiiv", "Product Hunt Daily"), (
        ("New post", "{name}: Why small models are winning", 1),
        ("Your weekly digest", "Top stories from the writers you follow.", 1),
        ("Morning Brew", "Markets, tech and a crossword ☕", 1))),
    "groceries": (("Instacart", "Ocado", "盒马", "Whole Foods", "Kroger", "Tesco"), (
        ("Your shopper is here", "{name} is shopping your order.", 2),
        ("Item substitution", "Oat milk is out of stock. Approve a replacement?", 2),
        ("Delivered", "Your groceries were left at the door.", 2),
        ("订单配送中", "您的生鲜订单正在配送，预计{time}送达。", 2))),
    "airline": (("Delta", "United", "Lufthansa", "中国国航", "Ryanair", "Emirates"), (
        ("Check-in open", "Check in for flight {flight} to {city}.", 2),
        ("Gate change", "Flight {flight} now departs from gate {gate}.", 3),
        ("Boarding now", "Flight {flight} to {city} is boarding.", 3),
        ("航班延误", "您的航班{flight}延误，预计{time}起飞。", 3),
        ("Miles posted", "1,240 miles were added to your account.", 1))),
}

SLOTS: Mapping[str, tuple[str, ...]] = {
    "name": ("Maria", "Tom", "Priya", "Kenji", "Olu", "Sofia", "Liam", "小王", "Chen", "Ana"),
    "teacher": ("Ms. Rivera", "Mr. Okafor", "Mrs. Chen", "Mr. Dubois"),
    "kid": ("Emma", "Noah", "Mia", "Leo"),
    "surname": ("Li", "Patel", "Smith", "Garcia", "王", "张"),
    "landlord": ("Mr. Howard", "Property Manager", "Dana (landlord)"),
    "pet": ("Biscuit", "Luna", "Max", "Mochi"),
    "day": ("tomorrow", "Friday", "Monday", "Mar 3", "this weekend", "明天", "周五"),
    "time": ("7:30 AM", "3 PM", "18:00", "9:15", "下午3点"),
    "month": ("March", "April", "October"),
    "amount": ("42.10", "120", "86.50", "1,250", "19.99", "300"),
    "n": ("48213", "1137", "77802", "9051"),
    "code": ("IOE0915", "EAC-2291"),
    "city": ("Chicago", "Berlin", "Osaka", "上海", "Austin", "Lyon"),
    "country": ("Spain", "Japan", "Canada"),
    "street": ("Elm St", "Park Ave", "Hill Road"),
    "band": ("The National", "Phoenix", "Taylor Swift", "五月天"),
    "venue": ("the Arena", "Town Hall", "Blue Note"),
    "team": ("Arsenal", "the Warriors", "国安"),
    "meeting": ("Design review", "1:1", "Budget sync", "周会"),
    "flight": ("DL 214", "UA 88", "CA 981", "LH 400"),
    "gate": ("B12", "C7", "A3"),
}


def _fill(text: str, rng: random.Random) -> str:
    out = text
    for key, values in SLOTS.items():
        token = "{" + key + "}"
        while token in out:
            out = out.replace(token, rng.choice(values), 1)
    return out


def generate_rows(taxonomy: Taxonomy, counts: Mapping[str, int], target: int = 60, seed: int = 0) -> list[dict]:
    """Rows for each templated category until it has ``target`` rows (``counts``: rows it already has)."""
    rng = random.Random(f"generator:{seed}")
    rows = []
    for category, (apps, templates) in sorted(TEMPLATES.items()):
        if category in HELD_OUT_CATEGORIES:
            continue
        default = taxonomy.categories[category].default
        for n in range(max(0, target - counts.get(category, 0))):
            title, body, priority = rng.choice(templates)
            app = rng.choice(apps)
            rows.append({"id": f"gen-{category}-{n}", "app": app.lower(), "app_name": app,
                         "title": _fill(title, rng), "body": _fill(body, rng), "folder": default,
                         "priority": priority, "category_key": category, "generated": True})
    return rows
