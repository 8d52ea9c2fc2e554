"""Classifier(calibrate_corrections=True, the default): the pull the corrections exert on notifications that say
nothing is taken back from every answer (contextual calibration). Real llama.cpp on the tiny models (names and letter
codes)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from notifclf import Classifier
from notifclf.engine.core import CONTENT_FREE

CORRECTIONS = [({"app": "FitLife Gym", "title": "Spin class at 6pm", "body": "3 spots left"}, "Promotions", 1),
               ({"app": "ParentSquare", "title": "Newsletter", "body": "Bake sale on Friday"}, "Work", 3),
               ({"app": "Delta", "title": "Check in now", "body": "Flight DL 12"}, "Work", 3)]
NOTES = [{"app": "Uber", "title": "Your driver is arriving", "body": "Toyota Prius"},
         {"app": "WhatsApp", "title": "Mum", "body": "Call me"},
         {"app": "FitLife Gym", "title": "Yoga at 7pm", "body": "2 spots left"}]


def _classifier(model, tmp_path, store: str, **kwargs) -> Classifier:
    return Classifier(model, progress=False, result_cache_size=0, corrections_path=tmp_path / store,
                      cache_dir=tmp_path / "cache", **kwargs)


def _log_dist(result, names) -> np.ndarray:
    return np.log(np.array([result.folder_distribution[n] for n in names]))


@pytest.mark.parametrize("model", ["tiny_qwen2", "tiny_qwen2_codes"])
def test_the_shift_the_corrections_give_content_free_notifications_is_taken_back(model, request, tmp_path):
    path = request.getfixturevalue(model)
    with _classifier(path, tmp_path, "taught.sqlite3") as taught:
        for note, folder, priority in CORRECTIONS:
            taught.correct(note, folder=folder, priority=priority)
    with _classifier(path, tmp_path, "none.sqlite3") as plain, \
            _classifier(path, tmp_path, "taught.sqlite3", calibrate_corrections=False) as taught, \
            _classifier(path, tmp_path, "taught.sqlite3") as calibrated:
        names = [f.name for f in plain.folders]
        assert len(taught.corrections) == len(calibrated.corrections) == len(CORRECTIONS)
        shift = np.mean([_log_dist(plain.classify(n), names) - _log_dist(taught.classify(n), names)
                         for n in CONTENT_FREE], axis=0)
        assert np.abs(shift).max() > 1e-3  # the corrections do move the tiny model's folders
        for note in NOTES:
            raw, got = taught.classify(note), calibrated.classify(note)
            fused = _log_dist(raw, names) + shift
            want = np.exp(fused - fused.max())
            want /= want.sum()
            assert [got.folder_distribution[n] for n in names] == pytest.approx(want.tolist(), abs=1e-4)
            assert got.folder == names[int(np.argmax(want))]
            assert got.priority in (1, 2, 3) and got.folder_confidence == pytest.approx(want.max(), abs=1e-4)


def test_without_corrections_calibration_changes_nothing(tiny_qwen2, tmp_path):
    with _classifier(tiny_qwen2, tmp_path, "a.sqlite3", calibrate_corrections=False) as off, \
            _classifier(tiny_qwen2, tmp_path, "b.sqlite3") as on:
        for note in NOTES:
            a, b = off.classify(note), on.classify(note)
            assert (a.folder, a.priority) == (b.folder, b.priority)
            assert all(math.isclose(a.folder_distribution[k], b.folder_distribution[k], abs_tol=1e-6)
                       for k in a.folder_distribution)
        assert on.decode_counts() == off.decode_counts()


def test_calibration_must_be_a_bool(tiny_qwen2, tmp_path):
    with pytest.raises(ValueError, match="calibrate_corrections"):
        _classifier(tiny_qwen2, tmp_path, "c.sqlite3", calibrate_corrections="yes")
