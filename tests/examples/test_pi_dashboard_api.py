"""The dashboard's HTTP API (FastAPI TestClient, a real tiny llama.cpp model): /classify, /folders, /feed, OpenAPI."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

import notifclf
from examples.pi_dashboard.app import create_app


@pytest.fixture
def client(tiny_qwen2, tmp_path):
    clf = notifclf.Classifier(tiny_qwen2, progress=False, corrections_path=tmp_path / "corrections.sqlite3")
    with TestClient(create_app(clf)) as c:
        yield c
    clf.close()


def test_openapi_describes_classify_and_folders(client):
    spec = client.get("/openapi.json").json()
    assert {"post"} <= set(spec["paths"]["/classify"]) and {"get", "put"} <= set(spec["paths"]["/folders"])
    assert spec["components"]["schemas"]["ClassifiedOut"]["properties"]["priority"]["enum"] == [1, 2, 3]


def test_classify_returns_a_result_and_feeds_the_page(client):
    res = client.post("/classify", json={"app": "Chase", "title": "Payment received", "body": "You got $250"})
    assert res.status_code == 200, res.text
    item = res.json()
    assert item["id"] == 1 and item["folder"] in {"Work", "Personal", "Promotions", "Alerts"}
    assert item["android_importance"] == notifclf.android_importance(item["priority"])
    assert item["ios_interruption_level"] == notifclf.ios_interruption_level(item["priority"])
    assert 0 < item["folder_confidence"] <= 1 and 0 < item["priority_confidence"] <= 1
    feed = client.get("/feed", params={"after": 0}).json()
    assert [i["id"] for i in feed["items"]] == [1] and feed["items"][0]["title"] == "Payment received"
    assert client.get("/feed", params={"after": 1}).json()["items"] == []


def test_folders_are_replaced_at_run_time(client):
    assert [f["name"] for f in client.get("/folders").json()] == ["Work", "Personal", "Promotions", "Alerts"]
    new = [{"name": "Finance", "description": "Banking, payments"}, {"name": "旅行", "description": "Flights, hotels"}]
    assert client.put("/folders", json=new).json() == new
    assert client.get("/folders").json() == new
    assert client.post("/classify", json={"app": "Chase", "title": "Payment received"}).json()["folder"] in {"Finance", "旅行"}


@pytest.mark.parametrize("folders,match", [
    ([{"name": "A", "description": ""}], "needs a non-empty description"),
    ([{"name": "A", "description": "x"}, {"name": "a", "description": "y"}], "unique ignoring case"),
    ([], "at least one folder"),
])
def test_bad_folders_are_refused_with_the_reason_and_change_nothing(client, folders, match):
    res = client.put("/folders", json=folders)
    assert res.status_code == 422 and match in res.json()["detail"]
    assert len(client.get("/folders").json()) == 4


def test_bad_notification_fields_are_422(client):
    assert client.post("/classify", json={"title": ["not", "text"]}).status_code == 422


def test_the_page_and_its_assets_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and 'id="columns"' in page.text
    assert client.get("/static/dashboard.js").status_code == 200


def test_a_correction_moves_the_item_is_stored_and_can_be_undone(client):
    item = client.post("/classify", json={"app": "FitLife Gym", "title": "Spin class at 6pm"}).json()
    other = next(f for f in ("Promotions", "Work") if f != item["folder"])
    moved = client.post(f"/feed/{item['id']}/correct", json={"folder": other})
    assert moved.status_code == 200, moved.text
    assert moved.json()["folder"] == other and moved.json()["corrected"] is True
    assert moved.json()["priority"] == item["priority"]                 # not given: as the card shows it
    rated = client.post(f"/feed/{item['id']}/correct", json={"priority": 3}).json()
    assert (rated["folder"], rated["priority"], rated["android_importance"]) == (other, 3, 4)
    stored = client.get("/corrections").json()
    assert [(c["app"], c["folder"], c["priority"]) for c in stored] == [("FitLife Gym", other, 3)]  # one per notification
    assert client.delete(f"/corrections/{stored[0]['id']}").status_code == 204
    assert client.get("/corrections").json() == [] and client.delete(f"/corrections/{stored[0]['id']}").status_code == 404


def test_bad_corrections_are_refused(client):
    item = client.post("/classify", json={"app": "Chase", "title": "Payment received"}).json()
    assert client.post(f"/feed/{item['id']}/correct", json={"folder": "Nope"}).status_code == 422
    assert client.post(f"/feed/{item['id']}/correct", json={}).status_code == 422
    assert client.post(f"/feed/{item['id']}/correct", json={"priority": 5}).status_code == 422
    assert client.post("/feed/999/correct", json={"folder": "Work"}).status_code == 404
    assert client.get("/corrections").json() == []
