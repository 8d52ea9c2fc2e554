"""What a folder description lists (notifclf.embedding.description_parts), and the prior that reads its parts."""

from __future__ import annotations

import numpy as np
import pytest

from notifclf import Folder
from notifclf.embedding.description_parts import description_parts
from notifclf.embedding.folder_prior import EmbeddingFolderPrior
from notifclf.notification import Notification


@pytest.mark.parametrize("description, parts", [
    ("Rain, storm and heat alerts, messages from colleagues in team chat and card purchases",
     ("Rain", "storm", "heat alerts", "messages from colleagues in team chat", "card purchases")),
    ("Rides I book through Uber, Lyft or similar apps: driver on the way, trip receipts",
     ("Rides I book through Uber", "Lyft", "similar apps", "driver on the way", "trip receipts")),
    ("Sales from fashion brands; home decor sales, but not electronics and gadget deals",
     ("Sales from fashion brands", "home decor sales")),
    ("Recibos de viajes y facturas de hotel", ("Recibos de viajes", "facturas de hotel")),
    ("音乐、播客和有声书", ("音乐", "播客", "有声书")),
])
def test_a_listed_description_is_split_into_its_parts_without_its_exceptions(description, parts):
    assert description_parts(description) == parts


@pytest.mark.parametrize("description", ["Direct messages from my relatives", "Anything not covered above",
                                         "", "a, b", "Everything except work: meetings, tickets"])
def test_a_description_that_lists_fewer_than_two_things_has_no_parts(description):
    assert description_parts(description) == ()


FOLDERS = (Folder("Orion", "Card purchases, messages from colleagues in team chat and storm warnings"),
           Folder("Films", "Movies I stream at home"),
           Folder("Family", "Messages from my mum"))
NOTES = [Notification(app="Weather", title="Severe storm warning", body="Thunderstorms with hail expected tonight"),
         Notification(app="Netflix", title="New episode", body="Season 3 of your show is out")]


def test_parts_raise_a_listed_folder_towards_its_best_part_and_leave_others_alone(encoder):
    whole = EmbeddingFolderPrior(encoder, weight=1.0).bias(FOLDERS, NOTES)
    best = EmbeddingFolderPrior(encoder, weight=1.0, parts=1.0).bias(FOLDERS, NOTES)
    half = EmbeddingFolderPrior(encoder, weight=1.0, parts=0.5).bias(FOLDERS, NOTES)
    assert best[0, 0] > whole[0, 0] + 0.05  # the storm warning is far closer to "storm" than to the whole list
    assert np.all(best >= whole - 1e-6)  # a part only ever raises a folder
    assert best[:, 1:] == pytest.approx(whole[:, 1:])  # the other folders list one thing each
    assert half == pytest.approx((whole + best) / 2)  # the mix is linear
    assert EmbeddingFolderPrior(encoder, weight=1.0, parts=0.0).bias(FOLDERS, NOTES) == pytest.approx(whole)


@pytest.mark.parametrize("parts", [-0.1, 1.5, "half", None])
def test_a_parts_mix_outside_zero_to_one_is_refused(encoder, parts):
    with pytest.raises(ValueError, match="parts"):
        EmbeddingFolderPrior(encoder, parts=parts)
