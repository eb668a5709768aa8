import json
import os
import pickle
import struct
import subprocess
import sys

import pytest
import torch

from composer.errors import ModelFileError
from composer.model.modelfile import FORMAT_VERSION, load_model, model_bytes, read_metadata, save_model
from composer.model.network import ModelConfig, MusicRNN
from composer.representations.melody import MelodyConfig, MelodyTokenizer
from composer.representations.performance import PerformanceTokenizer


def small(tok, cell="lstm", tie=False):
    torch.manual_seed(0)
    return MusicRNN(ModelConfig(vocab_size=tok.vocab_size, cell=cell, embed_dim=16, hidden_size=16,
                                num_layers=2, tie_weights=tie, position_classes=tok.position_classes))


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("tie", [False, True])
@pytest.mark.parametrize("tok", [MelodyTokenizer(MelodyConfig(steps_per_quarter=6)), PerformanceTokenizer()],
                         ids=["melody", "performance"])
def test_save_load_round_trip_keeps_weights_and_configs(tmp_path, tok, cell, tie):
    model = small(tok, cell, tie)
    path = save_model(tmp_path / "m.model", model, tok, {"steps": 12, "val_bits_per_note": 3.2})
    loaded = load_model(path, "cpu")
    assert loaded.model.config == model.config
    assert loaded.tokenizer.config == tok.config and loaded.tokenizer.vocab == tok.vocab
    for (k, a), (_, b) in zip(model.state_dict().items(), loaded.model.state_dict().items()):
        assert torch.equal(a, b), k
    if tie:
        assert loaded.model.head.weight.data_ptr() == loaded.model.embed.weight.data_ptr()
    meta = read_metadata(path)
    assert meta["format_version"] == 1 and meta["training"]["steps"] == 12      # 1: no copy index (test_copy_index.py)
    assert meta["library_versions"]["torch"] == torch.__version__
    assert not loaded.model.training


def _bytes_with_meta(tok, edit) -> bytes:
    """A model file whose JSON metadata was changed by `edit`."""
    data = model_bytes(small(tok), tok)
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    meta = json.loads(header["__metadata__"]["composer"])
    edit(meta)
    header["__metadata__"]["composer"] = json.dumps(meta)
    new_header = json.dumps(header).encode()
    new_header += b" " * (-len(new_header) % 8)
    return struct.pack("<Q", len(new_header)) + new_header + data[8 + n:]


def _newer(meta):
    meta["format_version"] = FORMAT_VERSION + 1


def _wrong_vocab(meta):
    meta["vocabulary"] = meta["vocabulary"][:-1]


def _wrong_size(meta):
    meta["model"]["vocab_size"] += 3


def _wrong_hidden(meta):
    meta["model"]["hidden_size"] = 32


class _Evil:
    def __reduce__(self):
        return (os.system, (f"touch {os.environ.get('EVIL_MARKER', '/tmp/composer-evil-marker')}",))


@pytest.mark.parametrize("name, make, message", [
    ("empty", lambda tok: b"", "empty file"),
    ("random", lambda tok: os.urandom(4096), "not a model file"),
    ("truncated", lambda tok: model_bytes(small(tok), tok)[:2000], "corrupt|truncated"),
    ("huge-header", lambda tok: struct.pack("<Q", 10**12) + b"{" + b" " * 100, "header claims"),
    ("newer", lambda tok: _bytes_with_meta(tok, _newer), "newer than this program"),
    ("vocab", lambda tok: _bytes_with_meta(tok, _wrong_vocab), "vocabulary does not match"),
    ("vocab-size", lambda tok: _bytes_with_meta(tok, _wrong_size), "vocab_size"),
    ("weights", lambda tok: _bytes_with_meta(tok, _wrong_hidden), "weights do not match"),
    ("pickle", lambda tok: pickle.dumps(_Evil()), "pickle"),
])
def test_bad_model_files_give_one_line_errors_naming_the_file(tmp_path, name, make, message):
    path = tmp_path / f"{name}.model"
    path.write_bytes(make(MelodyTokenizer()))
    with pytest.raises(ModelFileError, match=message) as info:
        load_model(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


@pytest.mark.slow
def test_pickled_torch_checkpoint_never_runs_even_when_weights_only_is_disabled(tmp_path):
    marker = tmp_path / "marker"
    evil = tmp_path / "evil.pt"
    env = dict(os.environ, EVIL_MARKER=str(marker), TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD="1")
    # torch.save of an object whose unpickling would create the marker file
    subprocess.run([sys.executable, "-c",
                    "import os, torch\n"
                    "class E:\n"
                    "    def __reduce__(self): return (os.system, ('touch ' + os.environ['EVIL_MARKER'],))\n"
                    f"torch.save({{'x': E()}}, {str(evil)!r})"], env=env, check=True)
    assert not marker.exists()
    renamed = tmp_path / "evil.model"
    renamed.write_bytes(evil.read_bytes())
    for path in (evil, renamed):
        result = subprocess.run([sys.executable, "-m", "composer", "info", str(path)], env=env,
                                capture_output=True, text=True)
        assert result.returncode == 2
        assert "pickle" in result.stderr and "Traceback" not in result.stderr
        result = subprocess.run([sys.executable, "-m", "composer", "generate", "--model", str(path),
                                 "--out", str(tmp_path / "out")], env=env, capture_output=True, text=True)
        assert result.returncode == 2 and "pickle" in result.stderr
    assert not marker.exists()


def test_foreign_safetensors_file_is_refused(tmp_path):
    from safetensors.torch import save_file
    path = tmp_path / "foreign.model"
    save_file({"w": torch.zeros(3)}, str(path))
    with pytest.raises(ModelFileError, match="not a composer-model file"):
        load_model(path)


def test_info_prints_metadata(tmp_path):
    tok = MelodyTokenizer()
    path = save_model(tmp_path / "m.model", small(tok, "gru"), tok, {"steps": 5, "corpus": {"name": "jigs"}})
    out = subprocess.run([sys.executable, "-m", "composer", "info", str(path)], capture_output=True, text=True)
    assert out.returncode == 0
    assert "GRU 2x16" in out.stdout and "melody" in out.stdout and "jigs" in out.stdout
