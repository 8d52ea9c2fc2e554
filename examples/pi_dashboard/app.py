"""The FastAPI app: the page, ``POST /classify``, ``GET``/``PUT /folders``, ``GET /feed``, corrections
(``POST /feed/{id}/correct``, ``GET /corrections``, ``DELETE /corrections/{id}``); OpenAPI at /openapi.json."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

import notifclf

from .feed import Feed

logger = logging.getLogger("pi_dashboard")

STATIC = Path(__file__).parent / "static"


class NotificationIn(BaseModel):
    """A notification as a phone or desktop posts it; every field is optional."""

    app: str = Field("", description="display name or package id, e.g. Slack or com.chase.sig.android")
    title: str = ""
    body: str = ""
    sub_text: str = ""
    category: str = Field("", description="Android Notification.CATEGORY_* value such as msg or email")
    posted_at: str | int | None = Field(None, description="ISO-8601 time or epoch milliseconds")


class FolderModel(BaseModel):
    name: str = Field(..., description="unique ignoring case, at most 48 characters")
    description: str = Field(..., description="one line the model reads: what belongs in this folder")


class ClassifiedOut(BaseModel):
    id: int = Field(..., description="position in the live feed")
    time: str
    app: str
    title: str
    body: str
    folder: str = Field(..., description="one of the current folders")
    priority: Literal[1, 2, 3] = Field(..., description="1 can wait, 2 worth checking today, 3 needs attention now")
    folder_confidence: float
    priority_confidence: float
    android_importance: int = Field(..., description="NotificationChannel importance: 2 LOW, 3 DEFAULT, 4 HIGH")
    ios_interruption_level: str = Field(..., description="passive, active or timeSensitive")
    corrected: bool = Field(False, description="the user moved it or changed its priority")


class CorrectionIn(BaseModel):
    folder: str | None = Field(None, description="where it belongs (one of the current folders)")
    priority: Literal[1, 2, 3] | None = None


class CorrectionOut(BaseModel):
    id: int
    app: str
    title: str
    folder: str
    priority: Literal[1, 2, 3]


class FeedOut(BaseModel):
    folders: list[FolderModel]
    items: list[ClassifiedOut]


def _folders(clf: notifclf.Classifier) -> list[FolderModel]:
    return [FolderModel(**f.to_dict()) for f in clf.folders]


def create_app(clf: notifclf.Classifier, *, feed_size: int = 200) -> FastAPI:
    """The dashboard around one Classifier (shared by request threads; its calls are serialized)."""
    app = FastAPI(title="notifclf dashboard", version=notifclf.__version__,
                  description="Sorts notifications into your folders with a priority, offline, with a local model.")
    feed = Feed(feed_size)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.post("/classify", response_model=ClassifiedOut, summary="Classify a notification and add it to the feed")
    def classify(notification: NotificationIn) -> dict:
        try:
            note = notifclf.Notification(**notification.model_dump())
            result = clf.classify(note)
        except notifclf.InvalidNotificationError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from exc
        item = feed.add(note, result)
        logger.info("%s | %s -> %s p%d", note.app, note.title, result.folder, result.priority)
        return item

    @app.get("/folders", response_model=list[FolderModel], summary="The current folders")
    def get_folders() -> list[FolderModel]:
        return _folders(clf)

    @app.put("/folders", response_model=list[FolderModel], summary="Replace the folders (no restart, no reload)")
    def put_folders(folders: list[FolderModel]) -> list[FolderModel]:
        try:
            clf.set_folders([f.model_dump() for f in folders], clf.instructions)
        except (notifclf.InvalidFoldersError, notifclf.PromptTooLongError) as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from exc
        logger.info("folders now %s", ", ".join(f.name for f in clf.folders))
        return _folders(clf)

    @app.get("/feed", response_model=FeedOut, summary="Feed items after an id, and the current folders")
    def get_feed(after: int = 0) -> FeedOut:
        return FeedOut(folders=_folders(clf), items=[ClassifiedOut(**item) for item in feed.after(after)])

    @app.post("/feed/{item_id}/correct", response_model=ClassifiedOut,
              summary="Move a notification to another folder or change its priority: stored, and read by the model "
                      "from the next notification on")
    def correct(item_id: int, change: CorrectionIn) -> dict:
        item = feed.get(item_id)
        if item is None:
            raise HTTPException(status_code=404, detail=f"no feed item {item_id}")
        if change.folder is None and change.priority is None:
            raise HTTPException(status_code=422, detail="give folder, priority or both")
        note = notifclf.Notification(app=item["app"], title=item["title"], body=item["body"])
        try:
            # the label not changed stays as the card shows it
            c = clf.correct(note, folder=change.folder or item["folder"], priority=change.priority or item["priority"])
        except (notifclf.InvalidFoldersError, notifclf.PromptTooLongError) as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from exc
        logger.info("corrected %s | %s -> %s p%d", note.app, note.title, c.folder, c.priority)
        return feed.correct(item_id, c.folder, c.priority)

    @app.get("/corrections", response_model=list[CorrectionOut], summary="The stored corrections, oldest first")
    def get_corrections() -> list[CorrectionOut]:
        return [CorrectionOut(id=c.id, app=c.notification.app, title=c.notification.title, folder=c.folder,
                              priority=c.priority) for c in clf.corrections]

    @app.delete("/corrections/{correction_id}", status_code=204, summary="Undo a correction")
    def delete_correction(correction_id: int) -> None:
        if not clf.forget(correction_id):
            raise HTTPException(status_code=404, detail=f"no correction {correction_id}")

    return app
