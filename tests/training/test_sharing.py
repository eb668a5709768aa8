"""Model files reveal no paths of the training machine: the trainer stores
paths relative to the model's folder or as names, `--private` stores no names,
and training.scrub rewrites older files (the shipped ones) without touching
their weights."""
from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from safetensors import safe_open

from benchmarks.midi_factory import melody, write_song
from composer.assets import assets_dir
from composer.cli.main import main
from composer.model.modelfile import read_metadata, save_model
from tests.tinymodels import train_tiny
from training.scrub import main as scrub_main
from training.scrub import scrub, shareable_path

TINY = ["--layers", "1", "--hidden", "16", "--embed", "8", "--batch", "2", "--seq-len", "16", "--eval-every", "2",
        "--checkpoint-every", "2", "--workers", "1", "--quiet", "--steps", "2"]


def tunes(folder: Path, count: int = 4) -> Path:
    for i in range(count):
        write_song(melody(32, seed=i), folder / f"tune{i}.mid")
    return folder


def raw_header(path: Path) -> str:
    """The model file's whole JSON header as stored (metadata and tensor table)."""
    data = path.read_bytes()
    return data[8:8 + struct.unpack("<Q", data[:8])[0]].decode()


def train(tmp_path: Path, folder: Path, out: Path, *extra: str) -> None:
    assert main(["train", str(folder), "--out", str(out), "--report", str(tmp_path / "r.json"),
                 "--cache-dir", str(tmp_path / "cache"), *TINY, *extra]) == 0


def test_info_of_a_fresh_model_shows_no_absolute_path(tmp_path, capsys, monkeypatch):
    folder = tunes(tmp_path / "private-songs")
    out = tmp_path / "models" / "m.model"
    out.parent.mkdir()
    train(tmp_path, folder, out)
    capsys.readouterr()
    monkeypatch.chdir(out.parent)           # (info's first line is the path it is given)
    assert main(["info", "m.model"]) == 0
    shown = capsys.readouterr().out
    assert "train_config" in shown and str(tmp_path) not in shown
    assert str(tmp_path) not in raw_header(out)
    training = read_metadata(out)["training"]
    assert training["corpus"]["folder"] == "private-songs"          # outside the model's folder: its name
    assert training["train_config"]["out"] == "m.model"
    assert training["train_config"]["cache_dir"] == "cache"


def test_a_folder_beside_the_model_is_stored_relative_and_found_again(tmp_path, capsys, monkeypatch):
    folder = tunes(tmp_path / "data" / "folk")
    out = tmp_path / "m.model"
    train(tmp_path, folder, out)
    assert read_metadata(out)["training"]["corpus"]["folder"] == "data/folk"
    assert main(["copy-index", str(out), "--remove"]) == 0
    monkeypatch.chdir(tmp_path / "data")        # found beside the model, wherever the command runs
    assert main(["copy-index", str(out)]) == 0
    assert read_metadata(out)["copy_index"]["names"] == [f"tune{i}.mid" for i in range(4)]


def test_private_training_stores_no_names(tmp_path, capsys):
    folder = tunes(tmp_path / "secret-demos")
    out = tmp_path / "shared.model"
    train(tmp_path, folder, out, "--private")
    header = raw_header(out)
    assert "secret-demos" not in header and "tune0" not in header and "shared.model" not in header
    meta = read_metadata(out)
    assert "copy_index" not in meta and meta["training"]["corpus"]["files_used"] == 4


@pytest.mark.parametrize(("path", "model", "stored"), [
    ("/home/a/midi/folk", "/home/a/models/m.model", "folk"),
    ("/home/a/models/data/folk", "/home/a/models/m.model", "data/folk"),
    ("/home/a/models/m.model", "/home/a/models/m.model", "m.model"),
    ("/home/a/midi/folk", None, "folk"),
    ("runs/dm3/folk", None, "folk"),
    (None, "/x/m.model", None),
])
def test_shareable_path(path, model, stored):
    assert shareable_path(path, model) == stored


def built_elsewhere(path: Path, *, copy_index=None) -> Path:
    """A model file written like the shipped ones were: absolute build paths in its summary."""
    model, tokenizer = train_tiny(steps=2, hidden=16)
    training = {"corpus": {"name": "folk", "folder": "/build/box/runs/folk", "files_used": 3},
                "train_config": {"folder": "/build/box/runs/folk", "out": "/build/box/assets/m.model",
                                 "report": None, "cache_dir": "runs/cache", "init_from": "assets/melody.model",
                                 "checkpoint_dir": None, "lr": 0.006}}
    return save_model(path, model, tokenizer, training, copy_index=copy_index)


def tensor_bytes(path: Path) -> dict[str, bytes]:
    with safe_open(str(path), framework="pt") as handle:
        return {k: handle.get_tensor(k).numpy().tobytes() for k in handle.keys()}


def test_scrub_rewrites_only_the_metadata(tmp_path, capsys):
    from composer.model.copyindex import CopyIndex
    from tests.tinymodels import scale_tune
    index = CopyIndex.from_notes({"mine/a.mid": scale_tune(), "mine/b.mid": scale_tune(2)})
    path = built_elsewhere(tmp_path / "m.model", copy_index=index)
    weights = tensor_bytes(path)
    assert scrub_main([str(path)]) == 0
    assert "/build/box" not in raw_header(path) and "runs/" not in raw_header(path)
    assert tensor_bytes(path) == weights                    # weights and copy index byte for byte
    config = read_metadata(path)["training"]["train_config"]
    assert (config["folder"], config["out"], config["init_from"], config["lr"]) == ("folk", "m.model",
                                                                                   "melody.model", 0.006)
    assert not scrub(path)                                  # clean: left alone
    assert scrub(path, private=True)
    meta = read_metadata(path)
    assert "copy_index" not in meta and "mine/a.mid" not in raw_header(path)
    assert meta["training"]["corpus"]["name"] == "" and meta["training"]["train_config"]["folder"] is None
    assert set(tensor_bytes(path)) == {k for k in weights if not k.startswith("copy")}
    assert all(tensor_bytes(path)[k] == weights[k] for k in tensor_bytes(path))


def test_scrub_refuses_a_file_that_is_not_a_model_with_one_line(tmp_path, capsys):
    bad = tmp_path / "x.model"
    bad.write_bytes(b"not a model")
    assert scrub_main([str(bad)]) == 2
    assert capsys.readouterr().err.startswith("error: ")


def paths_in(value) -> list[str]:
    """Every string in a JSON value that is an absolute path or climbs out of its folder."""
    if isinstance(value, dict):
        return [p for v in value.values() for p in paths_in(v)]
    if isinstance(value, list):
        return [p for v in value for p in paths_in(v)]
    return [value] if isinstance(value, str) and (value.startswith("/") or ".." in value.split("/")) else []


@pytest.mark.parametrize("name, kind", [("melody.model", "melody"), ("melody-infill.model", "melody"),
                                        ("polyphonic.model", "frames"), ("bach-harmonizer.model", "accompany")])
def test_the_shipped_models_name_no_build_paths(name, kind):
    meta = read_metadata(assets_dir() / name)
    assert paths_in(meta.get("training")) == []
    assert "runs/" not in json.dumps(meta.get("training")) and "/tmp" not in json.dumps(meta.get("training"))
    assert meta["representation"]["kind"] == kind
    assert (assets_dir() / name).with_suffix(".md").exists()          # its model card
