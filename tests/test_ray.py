"""notifclf.ray on a real local Ray (2 CPUs, started here, shut down after) and real llama.cpp (tiny generated model)."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from notifclf import Classifier, Folder

try:
    import ray
    import ray.data
except ImportError:
    if os.environ.get("NOTIFCLF_REQUIRE_SYSTEM_TESTS") == "1":  # CI installs the [ray] extra: missing is a failure
        raise
    pytest.skip("Ray is not installed: pip install -e '.[ray]'", allow_module_level=True)

from notifclf.ray import ACTOR_MAX_TASK_RETRIES, OUTPUT_COLUMNS, RayInputError, input_files, label_dataset

FOLDERS = (Folder("Finance", "Banking, payments, bills"), Folder("Travel", "Flights, hotels, trips"),
           Folder("Other", "Everything else"))
INSTRUCTIONS = "Anything from my bank is priority 3"


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def notifications(n: int) -> list[dict]:
    apps = ("Chase", "United", "Slack", "Amazon", "WhatsApp")
    return [{"id": i, "app": apps[i % 5], "title": f"Update {i}", "body": "details " * (i % 4), "posted_at": None}
            for i in range(n)]


def assert_same_results(labeled: list[dict], expected: list) -> None:
    """Same decisions as the reference ``classify_many``, same confidences up to float noise."""
    assert [(r["folder"], r["priority"]) for r in labeled] == [(e.folder, e.priority) for e in expected]
    for r, e in zip(labeled, expected):
        assert r["folder_confidence"] == pytest.approx(e.folder_confidence, abs=1e-5)
        assert r["priority_confidence"] == pytest.approx(e.priority_confidence, abs=1e-5)
        assert r["error"] is None


def test_every_row_once_in_order_equal_to_classify_many_and_bad_rows_are_errors(local_ray, tiny_qwen2):
    rows = notifications(42)
    for bad in (7, 30):
        rows[bad]["posted_at"] = True  # a bool is not a time: this row must become an error record, not a failure
    labeled = label_dataset(ray.data.from_items(rows), model=str(tiny_qwen2), folders=FOLDERS,
                            instructions=INSTRUCTIONS, concurrency=2, batch_size=5).take_all()

    assert [r["id"] for r in labeled] == [r["id"] for r in rows]  # each row once, in input order
    assert all(set(r) == {*rows[0], *OUTPUT_COLUMNS} for r in labeled)
    assert all(r["app"] == src["app"] and r["title"] == src["title"] for r, src in zip(labeled, rows))
    for bad in (7, 30):
        assert "posted_at" in labeled[bad]["error"] and labeled[bad]["folder"] is None
        assert labeled[bad]["priority"] is None
    good = [i for i in range(len(rows)) if i not in (7, 30)]
    with Classifier(tiny_qwen2, folders=FOLDERS, instructions=INSTRUCTIONS, progress=False) as clf:
        expected = clf.classify_many([rows[i] for i in good])
    assert_same_results([labeled[i] for i in good], expected)


def test_json_lines_with_bad_lines_become_error_records(local_ray, tiny_qwen2):
    good = [{"app": "Chase", "title": "Payment received"}, {"app_name": "United", "title": "Flight delayed"}]
    lines = [json.dumps(good[0]), "{not json", json.dumps({"title": ["a", "list"]}), "[1, 2]", json.dumps(good[1])]
    ds = ray.data.from_items([{"line": i + 1, "json": text} for i, text in enumerate(lines)])
    labeled = label_dataset(ds, model=str(tiny_qwen2), json_column="json", concurrency=1, batch_size=2).take_all()

    assert [r["line"] for r in labeled] == [1, 2, 3, 4, 5]
    assert labeled[1]["error"].startswith("not JSON")
    assert "title must be a str" in labeled[2]["error"]
    assert labeled[3]["error"] == "not a JSON object"
    with Classifier(tiny_qwen2, progress=False) as clf:
        assert_same_results([labeled[0], labeled[4]], clf.classify_many(good))


def test_actors_use_the_users_corrections_and_the_folder_prior(local_ray, tiny_qwen2, model_dir, tmp_path):
    store = tmp_path / "corrections.sqlite3"
    options = dict(folders=FOLDERS, cache_dir=tmp_path, progress=False)
    with Classifier(tiny_qwen2, corrections_path=store, **options) as clf:
        clf.correct({"app": "Slack", "title": "Standup"}, folder="Other", priority=3)
        clf.correct({"app": "Chase", "title": "Card used"}, folder="Travel", priority=1)
    (tmp_path / model_dir.name).symlink_to(model_dir)  # the encoder already extracted, as on a user's machine
    rows = notifications(10)
    labeled = label_dataset(ray.data.from_items(rows), model=str(tiny_qwen2), folders=FOLDERS, cache_dir=tmp_path,
                            corrections_path=store, folder_prior="embeddings", concurrency=1, batch_size=5).take_all()
    with Classifier(tiny_qwen2, corrections_path=store, folder_prior="embeddings", **options) as clf:
        expected = clf.classify_many(rows)
    with Classifier(tiny_qwen2, corrections_path=tmp_path / "none.sqlite3", **options) as plain:
        without = plain.classify_many(rows)
    assert_same_results(labeled, expected)
    assert [(e.folder, e.priority) for e in expected] != [(w.folder, w.priority) for w in without]


def test_columns_labeling_would_overwrite_are_refused_before_anything_runs(local_ray, tiny_qwen2):
    ds = ray.data.from_items([{"title": "x", "folder": "Work"}])
    with pytest.raises(RayInputError, match="already has column.*folder"):
        label_dataset(ds, model=str(tiny_qwen2))
    with pytest.raises(RayInputError, match="json_column 'text'"):
        label_dataset(ray.data.from_items([{"json": "{}"}]), model=str(tiny_qwen2), json_column="text")


def _descendants_titled(prefix: str) -> list[int]:
    """Pids of this process's descendants whose title (Ray sets it) starts with ``prefix``."""
    parents: dict[int, int] = {}
    titles: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            titles[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        parents[int(entry.name)] = int(stat[stat.rindex(")") + 2:].split()[1])

    def ours(pid: int) -> bool:
        while pid > 1:
            pid = parents.get(pid, 0)
            if pid == os.getpid():
                return True
        return False

    return [pid for pid, title in titles.items() if title.startswith(prefix) and ours(pid)]


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"  # dead, not yet reaped
    except FileNotFoundError:
        return True


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the actor's process through /proc (Linux)")
def test_a_worker_killed_mid_run_loses_and_repeats_no_row(local_ray, tiny_qwen2):
    assert ACTOR_MAX_TASK_RETRIES >= 1
    rows = notifications(240)
    labeled = label_dataset(ray.data.from_items(rows), model=str(tiny_qwen2), concurrency=2, batch_size=6)
    seen: list[dict] = []
    killed = None
    first_workers: list[int] = []
    later_workers: set[int] = set()
    for batch in labeled.iter_batches(batch_size=6, batch_format="pyarrow"):
        seen.extend(batch.to_pylist())
        workers = _descendants_titled("ray::MapWorker(MapBatches(_LabelActor))")
        if killed is None:  # the first results are in: kill one classifier actor's process
            assert workers, "no classifier actor process found"
            first_workers, killed, rows_before_kill = workers, workers[0], len(seen)
            os.kill(killed, signal.SIGKILL)
        else:
            later_workers.update(workers)
    assert killed is not None and rows_before_kill < len(rows) // 2  # the kill landed mid-run
    assert _gone(killed)
    assert later_workers - set(first_workers), "the killed actor was not restarted (max_restarts)"
    assert [r["id"] for r in seen] == [r["id"] for r in rows]  # every row exactly once, in order
    assert all(r["error"] is None and r["folder"] for r in seen)
    with Classifier(tiny_qwen2, progress=False) as clf:
        assert_same_results(seen, clf.classify_many(rows))


def test_input_files_takes_a_file_a_folder_or_a_glob(tmp_path):
    (tmp_path / "d" / "sub").mkdir(parents=True)
    for name in ("d/b.jsonl", "d/sub/a.jsonl", "d/notes.txt"):
        (tmp_path / name).write_text("{}\n")
    assert input_files(tmp_path / "d" / "b.jsonl") == ([str(tmp_path / "d" / "b.jsonl")], "jsonl")
    assert input_files(tmp_path / "d") == (sorted([str(tmp_path / "d/b.jsonl"), str(tmp_path / "d/sub/a.jsonl")]), "jsonl")
    assert input_files(str(tmp_path / "d" / "**" / "*.jsonl"))[0] == input_files(tmp_path / "d")[0]
    (tmp_path / "d" / "c.parquet").write_bytes(b"")
    with pytest.raises(RayInputError, match="all be JSONL .* or all Parquet"):
        input_files(tmp_path / "d")
    with pytest.raises(RayInputError, match="no input files"):
        input_files(tmp_path / "missing*.jsonl")


@pytest.mark.real_model
def test_fifty_real_notifications_on_the_default_model(local_ray, real_base_gguf):
    path = Path(__file__).resolve().parents[2] / "shared" / "data" / "notifai" / "train.jsonl"  # as conftest's
    if not path.is_file():
        pytest.skip(f"{path} not present")
    with path.open(encoding="utf-8") as fh:
        rows = [json.loads(next(fh)) for _ in range(50)]
    notes = [{"id": r["id"], "app": r["app_name"], "title": r["title"], "body": r["body"]} for r in rows]
    start = time.perf_counter()
    labeled = label_dataset(ray.data.from_items(notes), concurrency=2, batch_size=10).take_all()  # the default model
    seconds = time.perf_counter() - start
    assert [r["id"] for r in labeled] == [n["id"] for n in notes]
    with Classifier(progress=False) as clf:  # each actor call is classify_many of one batch of 10
        expected = [r for i in range(0, len(notes), 10) for r in clf.classify_many(notes[i: i + 10])]
    assert_same_results(labeled, expected)
    agree = sum((r["folder"], r["priority"]) == (g["folder"], g["priority"]) for r, g in zip(labeled, rows))
    print(f"\n50 rows on Ray (2 actors x 1 thread) in {seconds:.1f} s, load included; folder and priority as "
          f"labeled in {agree}/50")


def test_actors_give_a_stated_priority_its_bonus(local_ray, tiny_qwen2):
    rows = [{"id": i, "app": "Chase", "title": f"Your bank statement {i}", "body": "details " * i} for i in range(6)]
    labeled = label_dataset(ray.data.from_items(rows), model=str(tiny_qwen2), folders=FOLDERS,
                            instructions=INSTRUCTIONS, stated_priority_bonus=100, concurrency=1,
                            batch_size=3).take_all()
    with Classifier(tiny_qwen2, folders=FOLDERS, instructions=INSTRUCTIONS, stated_priority_bonus=100,
                    progress=False) as clf:
        assert_same_results(labeled, clf.classify_many(rows))
    assert {r["priority"] for r in labeled} == {3}
