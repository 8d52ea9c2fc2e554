"""The folder reader's training (convert/train/reader.py) on the real all-MiniLM-L6-v2: episodes, the saved format
against torch + peft, and a short real run."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
peft = pytest.importorskip("peft")

from convert.train.batches import BatchSampler  # noqa: E402
from convert.train.holdout import trainable_category  # noqa: E402
from convert.train.reader import TARGETS, episodes_texts, main, save_adapter  # noqa: E402
from convert.train.rows import is_dev  # noqa: E402
from convert.train.taxonomy import load_taxonomy  # noqa: E402
from notifclf.embedding.files import open_model_dir  # noqa: E402
from notifclf.embedding.lora import CONFIG_FILE, WEIGHTS_FILE  # noqa: E402
from notifclf.folders import CATCH_ALL_EXAMPLES  # noqa: E402

from .fixtures import ROWS  # noqa: E402

TEXTS = ["Uber. Your driver is arriving. Toyota Prius", "Getaways: Flights, hotels and boarding passes",
         "WhatsApp. Mum. Dinner on Sunday?"]


def _sampler(seed: int = 0) -> BatchSampler:
    return BatchSampler(ROWS, None, load_taxonomy(), seed=seed, preferences_rate=0.0, examples_rate=0.0)


def test_episodes_hold_folders_then_rows_with_their_gold_folder():
    sampler = _sampler()
    texts, spans = episodes_texts(sampler, 3, 4, 6)
    assert len(spans) == 4
    for folders, notes, gold, catch_alls in spans:
        assert folders.stop == notes.start and notes.stop - notes.start == len(gold) >= 2
        assert all(0 <= g < folders.stop - folders.start for g in gold)
        assert all(": " in t for t in texts[folders])
        assert all(texts[folders][i].split(": ")[0] in {n for n, _ in CATCH_ALL_EXAMPLES} for i in catch_alls)
    assert any(catch_alls for *_, catch_alls in episodes_texts(sampler, 4, 12, 6)[1])
    assert episodes_texts(_sampler(), 3, 4, 6) == (texts, spans)  # depends only on (seed, step)
    assert episodes_texts(_sampler(seed=1), 3, 4, 6)[0] != texts


def test_episode_rows_are_trainable_rows_only():
    sampler = _sampler()
    taxonomy = load_taxonomy()
    for step in range(30):
        _folders, labelled, _catch_alls = sampler.episode(step, 8)
        for row, _folder in labelled:
            assert not is_dev(row["id"]) and trainable_category(taxonomy.category_of(row))


def _mean_pooled(model, tok, texts):
    enc = tok(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**enc).last_hidden_state
    mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    return torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy()


def test_the_saved_adapter_gives_the_numpy_runtime_the_torch_embeddings(model_dir, tmp_path):
    from transformers import AutoModel, AutoTokenizer

    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(str(model_dir))
    model = peft.get_peft_model(AutoModel.from_pretrained(str(model_dir), add_pooling_layer=False),
                                peft.LoraConfig(r=4, lora_alpha=8, target_modules=list(TARGETS)))
    with torch.no_grad():  # peft starts B at zero; a real adapter has both factors
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.05)
            if "lora_A" in name:
                param.mul_(4)
    save_adapter(model, tmp_path, 4, 8.0, model_dir / "model.safetensors")
    # float16 storage: compare with the torch model holding the same rounded factors
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_" in name:
                param.copy_(param.half().float())
    expected = _mean_pooled(model, tok, TEXTS)
    got = open_model_dir(model_dir, tmp_path).encode(TEXTS)
    assert np.abs(got - expected).max() < 1e-4
    assert np.abs(open_model_dir(model_dir).encode(TEXTS) - expected).max() > 1e-2  # the adapter matters


def test_a_short_run_trains_and_saves_a_loadable_adapter(model_dir, tmp_path):
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    out = tmp_path / "reader"
    assert main(["--data", str(data), "--encoder", str(model_dir), "--out", str(out), "--steps", "3",
                 "--episodes", "2", "--rows", "4", "--warmup", "1", "--log-every", "1", "--generated", "0"]) == 0
    report = json.loads((out / "training.json").read_text())
    assert report["steps"] == 3 and len(report["history"]) == 3
    assert all(np.isfinite(h["loss_ema"]) for h in report["history"])
    assert json.loads((out / CONFIG_FILE).read_text())["rank"] == 16
    assert (out / WEIGHTS_FILE).is_file()
    moved = open_model_dir(model_dir, out).encode(TEXTS)
    assert np.abs(moved - open_model_dir(model_dir).encode(TEXTS)).max() > 0  # three steps of lr > 0 moved it
    again = tmp_path / "again"
    assert main(["--data", str(data), "--encoder", str(model_dir), "--out", str(again), "--steps", "1",
                 "--episodes", "2", "--rows", "4", "--warmup", "1", "--generated", "0", "--init-adapter", str(out)]) == 0
    started = json.loads((again / "training.json").read_text())["initialized_from"]
    assert started["notifications_seen"] == report["notifications_seen"] and 6 <= report["notifications_seen"] <= 24


def test_catch_all_columns_are_the_learnt_threshold_and_it_learns(model_dir):
    from transformers import AutoModel, AutoTokenizer

    from convert.train.reader import episodes_loss

    tok = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModel.from_pretrained(str(model_dir), add_pooling_layer=False)
    texts = ["Payables: Invoices and payments", "Rest: Whatever is left over", "Chase. Payment due. $40 on the 3rd",
             "Nike. New shoes. 20% off this week"]
    spans = [(slice(0, 2), slice(2, 4), [0, 1], [1])]
    encoded = tok(texts, padding=True, return_tensors="pt")
    tau = torch.nn.Parameter(torch.tensor(0.3))
    loss, right, n = episodes_loss(model, encoded, spans, 20.0, tau)
    emb = torch.nn.functional.normalize(torch.tensor(open_model_dir(model_dir).encode(texts)), dim=-1)
    logits = 20.0 * torch.stack([emb[2:] @ emb[0], torch.full((2,), 0.3)], dim=1)
    assert float(loss.detach()) == pytest.approx(float(torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1]))),
                                        abs=1e-3)
    loss.backward()
    assert tau.grad is not None and float(tau.grad) != 0.0
    plain, _, _ = episodes_loss(model, encoded, spans, 20.0)  # without a threshold, the folder's own cosine
    assert float(plain.detach()) != pytest.approx(float(loss.detach()), abs=1e-3)


def test_a_short_catch_all_run_saves_the_threshold_and_the_bar_the_runtime_reads(model_dir, tmp_path):
    from notifclf.embedding.folder_prior import CatchAllReading, EmbeddingFolderPrior
    from notifclf.folders import Folder

    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    out = tmp_path / "reader"
    assert main(["--data", str(data), "--encoder", str(model_dir), "--out", str(out), "--steps", "2", "--episodes",
                 "4", "--rows", "4", "--warmup", "1", "--generated", "0", "--catch-all", "0.3"]) == 0
    saved = json.loads((out / CONFIG_FILE).read_text())["catch_all"]
    assert saved["bar"] == pytest.approx(saved["others_most_alike"] + 0.05, abs=1e-3) and saved["others"] > 20
    reading = CatchAllReading.from_config(json.loads((out / CONFIG_FILE).read_text()))
    assert reading.cos == pytest.approx(0.3, abs=0.05)
    prior = EmbeddingFolderPrior(open_model_dir(model_dir, out), catch_all=reading)
    folders = (Folder("Payables", "Invoices, payments and bank statements"), Folder("Trips", "Flights and hotels"),
               *(Folder(*f) for f in CATCH_ALL_EXAMPLES[:2]))
    assert prior.catch_all_folders(folders) == [n for n, _ in CATCH_ALL_EXAMPLES[:2]]


def test_a_warm_start_continues_from_the_saved_adapter(model_dir, tmp_path):
    from transformers import AutoModel

    from convert.train.reader import load_adapter

    def wrapped():
        return peft.get_peft_model(AutoModel.from_pretrained(str(model_dir), add_pooling_layer=False),
                                   peft.LoraConfig(r=4, lora_alpha=8, target_modules=list(TARGETS)))

    torch.manual_seed(1)
    first = wrapped()
    with torch.no_grad():
        for name, param in first.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.05)
    save_adapter(first, tmp_path, 4, 8.0, model_dir / "model.safetensors")
    second = wrapped()
    load_adapter(second, tmp_path, 4, 8.0)
    got = {k: v for k, v in second.state_dict().items() if "lora_" in k}
    want = {k: v.half().float() for k, v in first.state_dict().items() if "lora_" in k}
    assert got.keys() == want.keys() and all(torch.equal(got[k], want[k]) for k in got)
    with pytest.raises(ValueError, match="rank 4"):
        load_adapter(wrapped(), tmp_path, 8, 16.0)
