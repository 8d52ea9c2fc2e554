"""Training loop on a tiny random Qwen2 (no real model): the speed tricks change no loss; checkpoints resume."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")

from convert.train.batches import BatchSampler, ExampleBuilder  # noqa: E402
from convert.train.loop import batch_loss, train  # noqa: E402
from convert.train.model import add_lora  # noqa: E402
from convert.train.taxonomy import load_taxonomy  # noqa: E402

from .fixtures import ROWS, fake_encode  # noqa: E402


@pytest.fixture()
def tiny():
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    cfg = Qwen2Config(vocab_size=1010, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096)
    model = add_lora(Qwen2ForCausalLM(cfg), r=4, alpha=8)
    # LoRA B starts at zero; perturb it so the adapter matters in the cached prefix too
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.05)
    builder = ExampleBuilder(None, fake_encode, [1001], max_user_tokens=40)
    sampler = BatchSampler(ROWS, builder, load_taxonomy(), batch_size=3, seed=0)
    return model, sampler


def test_prefix_cache_and_answer_logits_give_the_reference_loss(tiny):
    model, sampler = tiny
    dev = torch.device("cpu")
    for step in range(3):
        b = sampler.batch(step)
        ref, _ = batch_loss(model, b, dev, 0, prefix_cache=False, answer_logits_only=False)
        fast, _ = batch_loss(model, b, dev, 0, prefix_cache=True, answer_logits_only=True)
        mid, _ = batch_loss(model, b, dev, 0, prefix_cache=True, answer_logits_only=False)
        assert fast.item() == pytest.approx(ref.item(), rel=1e-4)
        assert mid.item() == pytest.approx(ref.item(), rel=1e-4)


def test_checkpoint_and_resume(tiny, tmp_path):
    model, sampler = tiny
    dev = torch.device("cpu")
    out = tmp_path / "adapter"
    state = train(model, sampler, dev, 0, run_dir=tmp_path / "run", out_dir=out, max_steps=3, lr=1e-3, warmup=1,
                  ckpt_every=2, log=lambda m: None)
    assert state["step"] == 3
    assert (out / "adapter_model.safetensors").exists()
    cfg = json.loads((out / "adapter_config.json").read_text())
    assert cfg["r"] == 4
    saved = json.loads((tmp_path / "run" / "ckpt" / "state.json").read_text())
    assert saved["step"] == 3
    logs = []
    state2 = train(model, sampler, dev, 0, run_dir=tmp_path / "run", out_dir=out, max_steps=5, lr=1e-3, warmup=1,
                   ckpt_every=2, resume=True, log=logs.append)
    assert any("resumed at step 3" in m for m in logs)
    assert state2["step"] == 5 and state2["examples"] > state["examples"]


def test_snapshots_keep_the_adapter_of_every_nth_step(tiny, tmp_path):
    """Each snapshot also keeps the training record of its step (convert build reads folder_codes from it)."""
    model, sampler = tiny
    out = tmp_path / "out"

    def write_record(state):
        (out / "training.json").write_text(json.dumps({"steps": state["step"], "config": {"folder_codes": True}}))

    train(model, sampler, torch.device("cpu"), 0, run_dir=tmp_path / "run", out_dir=out, max_steps=4, lr=1e-3,
          warmup=1, ckpt_every=1, snapshot_every=2, log=lambda m: None, on_checkpoint=write_record)
    snaps = sorted(p.name for p in (tmp_path / "run" / "snapshots").iterdir())
    assert snaps == ["step-2", "step-4"]
    step2 = tmp_path / "run" / "snapshots" / "step-2"
    assert (step2 / "adapter_model.safetensors").exists()
    assert json.loads((step2 / "training.json").read_text())["steps"] == 2


def test_a_warm_start_records_the_adapter_it_began_with(tiny, tmp_path):
    from convert.train.__main__ import _initialized_from
    from notifclf.files import sha256_file

    model, sampler = tiny
    out = tmp_path / "adapter"
    train(model, sampler, torch.device("cpu"), 0, run_dir=tmp_path / "run", out_dir=out, max_steps=2, lr=1e-3,
          warmup=1, ckpt_every=2, log=lambda m: None)
    (out / "training.json").write_text(json.dumps({"examples_seen": 6, "initialized_from": {"adapter": "older"}}))
    record = _initialized_from(str(out))
    assert record == {"adapter": str(out), "weights_sha256": sha256_file(out / "adapter_model.safetensors"),
                      "examples_seen": 6, "initialized_from": {"adapter": "older"}}


def test_a_time_budget_anneals_the_rate_and_stops_training(tiny, tmp_path):
    from convert.train.loop import lr_at

    assert lr_at(50, 1e-3, 10, 1000, time_frac=1.0) == pytest.approx(1e-4)  # budget spent: the floor
    assert lr_at(50, 1e-3, 10, 1000, time_frac=0.0) == lr_at(50, 1e-3, 10, 1000)  # steps alone decide
    assert lr_at(5, 1e-3, 10, 1000, time_frac=0.9) == pytest.approx(6e-4)  # warm-up is by steps
    model, sampler = tiny
    lines: list[str] = []
    state = train(model, sampler, torch.device("cpu"), 0, run_dir=tmp_path / "run", out_dir=None, max_steps=10_000,
                  lr=1e-3, warmup=1, ckpt_every=1000, log=lines.append, schedule_seconds=0.5)
    assert 1 <= state["step"] < 10_000
    assert any("time budget" in line for line in lines)
    assert state["train_seconds"] >= 0.5


def _poison_head(model, bad_calls):
    """Make the lm_head's output NaN on the calls whose index (from 0) is in ``bad_calls`` (one call per step)."""
    from convert.train.model import body_and_head

    calls = [0]

    def hook(module, inputs, output):
        calls[0] += 1
        return output * float("nan") if calls[0] - 1 in bad_calls else output

    body_and_head(model)[1].register_forward_hook(hook)


def test_a_non_finite_step_updates_nothing_and_training_goes_on(tiny, tmp_path):
    model, sampler = tiny
    _poison_head(model, bad_calls={1})
    lines: list[str] = []
    state = train(model, sampler, torch.device("cpu"), 0, run_dir=tmp_path / "run", out_dir=None, max_steps=4,
                  lr=1e-3, warmup=1, ckpt_every=100, log_every=1, log=lines.append)
    assert state["step"] == 4 and state["skipped_steps"] == 1
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert state["loss_ema"] == state["loss_ema"]  # not NaN
    assert any("step 2: non-finite" in line for line in lines)
    assert [h["loss"] is None for h in state["history"]] == [False, True, False, False]


def test_steps_that_stay_non_finite_stop_training_with_a_clear_error(tiny, tmp_path):
    model, sampler = tiny
    _poison_head(model, bad_calls=set(range(2, 100)))
    with pytest.raises(FloatingPointError, match="3 steps in a row"):
        train(model, sampler, torch.device("cpu"), 0, run_dir=tmp_path / "run", out_dir=None, max_steps=20,
              lr=1e-3, warmup=1, ckpt_every=1, log=lambda m: None, max_skipped_in_a_row=3)
    saved = json.loads((tmp_path / "run" / "ckpt" / "state.json").read_text())
    assert (saved["step"], saved["skipped_steps"]) == (4, 2)  # checkpoints of skipped steps hold the same weights
    assert all(torch.isfinite(p).all() for p in model.parameters())
