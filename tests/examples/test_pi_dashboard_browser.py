"""The dashboard end to end: `python -m examples.pi_dashboard` with the default model, driven in headless Chromium.

Set NOTIFCLF_DASHBOARD_SCREENSHOT=examples/pi_dashboard/screenshot.png to refresh the README's screenshot.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import time

import httpx
import pytest

pytestmark = pytest.mark.real_model

TRAVEL = ("Travel", "Flights, hotels, trains, boarding passes, trip updates")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def dashboard(start, real_base_gguf, tmp_path) -> str:
    port = free_port()
    server = start(sys.executable, "-m", "examples.pi_dashboard", "--port", str(port),
                   "--corrections", str(tmp_path / "corrections.sqlite3"))
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert server.popen.poll() is None, f"the dashboard exited: {server.popen.stderr.read()}"
        try:
            if httpx.get(f"{url}/folders", timeout=2).status_code == 200:
                return url
        except httpx.TransportError:
            time.sleep(0.5)
    pytest.fail("the dashboard did not start")


@pytest.fixture
def browser(need_binary, missing):
    chromium = need_binary("chromium", "chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("playwright is not installed; it comes with the [dev] extra")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True)
        yield browser
        browser.close()


def column(page, folder: str):
    return page.locator(f'.column[data-folder="{folder}"]')


def test_post_see_it_land_edit_folders_screenshot(browser, dashboard, tmp_path):
    for note, folder in [({"app": "WhatsApp", "title": "Mom", "body": "Are you coming for dinner on Sunday?"}, "Personal"),
                         ({"app": "Shopee", "title": "Flash Deal: Electronics!",
                           "body": "Up to 70% OFF on phones. Ends in 2 hours!"}, "Promotions")]:
        assert httpx.post(f"{dashboard}/classify", json=note, timeout=120).json()["folder"] == folder

    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.goto(dashboard)
    page.wait_for_selector('.column[data-folder="Alerts"]')
    # Posted by another client: the live feed brings them in.
    column(page, "Personal").get_by_text("Are you coming for dinner on Sunday?").wait_for(timeout=10_000)
    column(page, "Promotions").get_by_text("Flash Deal: Electronics!").wait_for(timeout=10_000)

    # The test form: a production incident lands in Work with a priority badge and confidences.
    page.fill("#test-form [name=app]", "Slack")
    page.fill("#test-form [name=title]", "#incidents")
    page.fill("#test-form [name=body]", "PROD DOWN - payments returning 500s")
    page.click("#test-form button[type=submit]")
    card = column(page, "Work").locator(".card", has_text="PROD DOWN - payments returning 500s")
    card.wait_for(timeout=120_000)
    assert card.locator(".badge").inner_text() in {"P1", "P2", "P3"}
    assert "folder" in card.locator(".confidence").inner_text() and "%" in card.locator(".confidence").inner_text()

    # Edit the folders in the page: add Travel; it takes effect at once, without a restart.
    page.click("#add-folder")
    page.locator("#folder-rows .folder-row").last.locator("[name=name]").fill(TRAVEL[0])
    page.locator("#folder-rows .folder-row").last.locator("[name=description]").fill(TRAVEL[1])
    page.click("#folders-form button[type=submit]")
    column(page, "Travel").wait_for(timeout=30_000)
    assert page.locator("#folders-message").inner_text().startswith("Saved")
    assert [f["name"] for f in httpx.get(f"{dashboard}/folders").json()][-1] == "Travel"

    page.fill("#test-form [name=app]", "United Airlines")
    page.fill("#test-form [name=title]", "Boarding now")
    page.fill("#test-form [name=body]", "Flight UA 885 to Tokyo is boarding at gate B12")
    page.click("#test-form button[type=submit]")
    column(page, "Travel").get_by_text("Flight UA 885 to Tokyo is boarding at gate B12").wait_for(timeout=120_000)

    # Correct in the page: drag the incident card to Alerts, then set its priority; both are stored at once.
    card = column(page, "Work").locator(".card", has_text="PROD DOWN - payments returning 500s")
    card.drag_to(column(page, "Alerts"))
    moved = column(page, "Alerts").locator(".card.corrected", has_text="PROD DOWN - payments returning 500s")
    moved.wait_for(timeout=60_000)
    moved.locator("select.priority-pick").select_option("1")
    moved.locator(".badge", has_text="P1").wait_for(timeout=60_000)
    stored = httpx.get(f"{dashboard}/corrections").json()
    assert [(c["app"], c["title"], c["folder"], c["priority"]) for c in stored] == [("Slack", "#incidents", "Alerts", 1)]

    shot = tmp_path / "dashboard.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    if os.environ.get("NOTIFCLF_DASHBOARD_SCREENSHOT"):
        shutil.copyfile(shot, os.environ["NOTIFCLF_DASHBOARD_SCREENSHOT"])
