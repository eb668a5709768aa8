"""The copy meter's index stored in the model file: written by the trainer and
by `composer copy-index`, used by `generate --max-copy` and the app without
the training folder; a kept primer is not counted as copying."""
from __future__ import annotations

import json

import pytest
from safetensors import safe_open

from composer.analysis.copymeter import copy_meter, copy_meters, generated_notes, index_for_model
from composer.cli.main import main
from composer.errors import ComposerError, ModelFileError
from composer.model.copyindex import CopyIndex
from composer.model.modelfile import COPY_PREFIX, load_model, read_metadata, save_model, store_copy_index
from composer.music.midifile import write_midi
from composer.music.song import Note, melody_song
from composer.representations.melody import MelodyTokenizer
from composer.services.generate import GenerateRequest, generate
from tests.tinymodels import scale_tune, train_tiny

TOK = MelodyTokenizer()


def tune(seed: int, n: int = 24) -> list[Note]:
    """A tune of eighth and quarter notes whose pitches come from `seed` (no two seeds share a 4-note run)."""
    notes, t = [], 0.0
    for i in range(n):
        length = 0.5 if (i * seed) % 3 else 1.0
        notes.append(Note(t, t + length, 55 + (i * (seed + 3) + seed * 7) % 24))
        t += length
    return notes


def folder_of(path, tunes: dict[str, list[Note]]):
    path.mkdir(parents=True, exist_ok=True)
    for name, notes in tunes.items():
        write_midi(melody_song(notes), path / name)
    return path


@pytest.fixture(scope="module")
def tiny():
    return train_tiny(steps=5)


def test_model_file_round_trip_keeps_the_index_and_the_weights(tmp_path, tiny):
    model, tok = tiny
    index = CopyIndex.from_notes({"b.mid": tune(2), "a.mid": tune(1), "c.mid": scale_tune()})
    save_model(tmp_path / "with.model", model, tok, {"steps": 5}, copy_index=index)
    save_model(tmp_path / "without.model", model, tok, {"steps": 5})
    assert read_metadata(tmp_path / "without.model")["format_version"] == 1      # readable by older versions
    meta = read_metadata(tmp_path / "with.model")
    assert meta["format_version"] == 2 and meta["copy_index"]["names"] == ["a.mid", "b.mid", "c.mid"]
    assert meta["copy_index"]["notes"] == 24 + 24 + 16
    loaded = load_model(tmp_path / "with.model")
    assert load_model(tmp_path / "without.model").copy_index() is None
    for name, value in model.state_dict().items():
        assert (loaded.model.state_dict()[name] == value).all()
    stored = loaded.copy_index()
    assert stored is loaded.copy_index()                    # built once
    assert (stored.hashes == index.hashes).all() and (stored.positions == index.positions).all()
    assert (stored.symbols == index.symbols).all() and stored.names == index.names
    assert copy_meter(melody_song(tune(2)), stored) == (24, "b.mid")


def test_store_copy_index_adds_and_removes_it_keeping_weights_and_metadata(tmp_path, tiny):
    model, tok = tiny
    path = save_model(tmp_path / "m.model", model, tok, {"steps": 5, "corpus": {"name": "x"}})
    before = read_metadata(path)
    store_copy_index(path, CopyIndex.from_notes({"a.mid": tune(1)}))
    after = read_metadata(path)
    assert {k for k in after if after.get(k) != before.get(k)} == {"copy_index", "format_version"}
    assert load_model(path).copy_index().names == ["a.mid"]
    store_copy_index(path, None)
    assert read_metadata(path) == before
    with safe_open(str(path), "pt") as handle:
        assert not [k for k in handle.keys() if k.startswith(COPY_PREFIX)]


def test_a_damaged_stored_index_is_an_error_naming_the_file(tmp_path, tiny):
    model, tok = tiny
    path = save_model(tmp_path / "m.model", model, tok, copy_index=CopyIndex.from_notes({"a.mid": tune(1)}))
    meta = read_metadata(path)
    meta["copy_index"]["names"].append("ghost.mid")                   # 2 names for 1 length
    from safetensors.torch import save
    with safe_open(str(path), "pt") as handle:
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}
    path.write_bytes(save(tensors, metadata={"format": "composer-model", "composer": json.dumps(meta)}))
    loaded = load_model(path)                                   # the weights are fine
    with pytest.raises(ModelFileError, match="m.model: damaged copy index"):
        loaded.copy_index()


def test_index_for_model_prefers_a_given_folder_then_the_stored_index(tmp_path, tiny, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    model, tok = tiny
    folder = folder_of(tmp_path / "f", {"f1.mid": tune(5), "f2.mid": tune(6)})
    path = save_model(tmp_path / "m.model", model, tok, {"corpus": {"folder": str(tmp_path / "gone")}},
                      copy_index=CopyIndex.from_notes({"stored.mid": tune(1)}))
    loaded = load_model(path)
    assert index_for_model(loaded).names == ["stored.mid"]           # the recorded folder is not there
    assert index_for_model(loaded, folder=str(folder)).names == ["f1.mid", "f2.mid"]
    store_copy_index(path, None)
    with pytest.raises(ComposerError, match="holds no copy index and its training folder .*gone is not on this"):
        index_for_model(load_model(path))
    with pytest.raises(ComposerError, match="copy folder .*nothing is not a folder"):
        index_for_model(loaded, folder=str(tmp_path / "nothing"))


def test_the_trainer_stores_the_index_of_every_usable_file(tmp_path, monkeypatch):
    from training.config import TrainConfig
    from training.trainer import train
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    tunes = {f"t{i}.mid": tune(i, 40) for i in range(1, 6)}
    folder = folder_of(tmp_path / "f", tunes)
    (folder / "broken.mid").write_bytes(b"MThd nonsense")
    common = dict(folder=str(folder), layers=1, hidden=16, embed=8, steps=3, batch=2, seq_len=16, warmup_steps=1,
                  val_share=0.2, workers=1, checkpoint_every=100, eval_every=2)
    train(TrainConfig(out=str(tmp_path / "a.model"), **common))
    index = load_model(tmp_path / "a.model").copy_index()
    assert index.names == sorted(tunes)                               # training and validation files
    assert index.n_notes == 5 * 40
    assert copy_meter(melody_song(tunes["t3.mid"]), index) == (40, "t3.mid")
    train(TrainConfig(out=str(tmp_path / "b.model"), copy_index=False, **common))
    assert load_model(tmp_path / "b.model").copy_index() is None


def test_cli_copy_index_then_generate_max_copy_without_the_folder(tmp_path, tiny, capsys, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    model, tok = tiny
    folder = folder_of(tmp_path / "train", {"a.mid": tune(1), "b.mid": tune(2)})
    path = save_model(tmp_path / "m.model", model, tok, {"corpus": {"folder": str(folder)}})
    assert main(["copy-index", str(path)]) == 0                       # the folder the model file names
    assert "stored the notes of 2 file(s) (48 notes)" in capsys.readouterr().err
    assert main(["info", str(path)]) == 0
    assert "copy index:      48 notes of 2 file(s)" in capsys.readouterr().out
    folder.rename(tmp_path / "moved")
    code = main(["generate", "--model", str(path), "--count", "2", "--bars", "2", "--seed", "1",
                 "--out", str(tmp_path / "out"), "--max-copy", "100", "--quiet"])
    err = capsys.readouterr().err
    assert code == 0 and "piece 2: " in err and ", 1 sample(s)" in err
    assert main(["copy-index", str(path), "--remove"]) == 0
    capsys.readouterr()
    args = ["generate", "--model", str(path), "--count", "2", "--bars", "2", "--seed", "1", "--max-copy", "100",
            "--quiet", "--force", "--out", str(tmp_path / "out")]
    assert main(args) == 2
    assert "--copy-folder DIR" in capsys.readouterr().err
    assert main(args + ["--copy-folder", str(tmp_path / "moved")]) == 0
    assert main(["generate", "--model", str(path), "--copy-folder", str(tmp_path / "moved"), "--quiet",
                 "--out", str(tmp_path / "o2")]) == 2
    assert "is only read with a max copy: give max copy K" in capsys.readouterr().err


def test_cli_copy_index_errors_are_one_line(tmp_path, tiny, capsys):
    model, tok = tiny
    path = save_model(tmp_path / "m.model", model, tok, {"corpus": {"folder": str(tmp_path / "gone")}})
    assert main(["copy-index", str(path)]) == 2
    assert "gone is not on this machine (the model file's training folder); pass FOLDER" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["copy-index", str(path), str(empty)]) == 2
    assert "has no usable MIDI files" in capsys.readouterr().err
    assert main(["copy-index", str(path), str(empty), "--remove"]) == 2
    assert main(["copy-index", str(tmp_path / "none.model")]) == 2


def test_a_kept_primer_is_not_counted_as_copying(tmp_path, tiny):
    """The user's primer, taken from the training data, is the user's choice:
    the meter measures what the model wrote after it."""
    model, tok = tiny
    primer = tune(1)
    index = CopyIndex.from_notes({"a.mid": primer})
    path = save_model(tmp_path / "m.model", model, tok, copy_index=index)
    loaded = load_model(path)
    result = generate(loaded, GenerateRequest(count=2, bars=2, seed=3, primer=melody_song(primer)))
    end = max(n.end for n in primer)
    assert result.primer_beats == end
    assert all(copy_meter(song, index)[0] == len(primer) for song in result.songs)   # the whole song
    for song, (length, _) in zip(result.songs, copy_meters(result.songs, index, result.primer_beats)):
        assert length < len(primer)
        assert generated_notes(song, result.primer_beats) == [n for n in song.notes if n.start >= end]


def test_performance_primer_length_is_in_beats_of_the_output(tmp_path):
    """GenerationResult.primer_beats for a performance model: seconds of the
    primer at the output tempo (was the seconds themselves)."""
    model, tok = train_tiny("performance", steps=3)
    loaded = load_model(save_model(tmp_path / "p.model", model, tok))
    primer = melody_song([Note(0, 1, 60), Note(1, 2, 64)])              # 2 beats at 120 bpm = 1 s
    result = generate(loaded, GenerateRequest(count=1, seconds=2, seed=1, primer=primer, tempo=90))
    assert result.primer_beats == pytest.approx(1.5, abs=0.02)         # 1 s at 90 bpm


def test_eval_uses_the_stored_index_when_the_training_folder_is_not_there(tmp_path, tiny, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    model, tok = tiny
    path = save_model(tmp_path / "m.model", model, tok, {"corpus": {"folder": str(tmp_path / "gone")}},
                      copy_index=CopyIndex.from_notes({f"train{i}.mid": tune(i, 40) for i in range(1, 4)}))
    folder = folder_of(tmp_path / "held-out", {f"h{i}.mid": tune(i + 10, 30) for i in range(4)})
    assert main(["eval", str(path), str(folder), "--samples", "2", "--bars", "1", "--workers", "1", "--quiet",
                 "--json", str(tmp_path / "r.json")]) == 0
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["copy_index"]["description"] == "the training data's index stored in the model file"
    assert data["copy_index"]["files"] == 3 and data["copy_index"]["notes"] == 120


def test_cli_copy_index_takes_the_folder_after_options(tmp_path, tiny, capsys, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    model, tok = tiny
    folder = folder_of(tmp_path / "train", {"a.mid": tune(1)})
    path = save_model(tmp_path / "m.model", model, tok)
    assert main(["copy-index", str(path), "--workers", "1", str(folder)]) == 0
    assert "stored the notes of 1 file(s)" in capsys.readouterr().err


def _rewrite(path, change_meta=None, change_tensors=None):
    """Rewrite the model file at `path` with its copy index metadata / tensors changed (hostile files)."""
    from safetensors.torch import save
    meta = read_metadata(path)
    with safe_open(str(path), "pt") as handle:
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}
    if change_meta:
        change_meta(meta)
    if change_tensors:
        change_tensors(tensors)
    path.write_bytes(save(tensors, metadata={"format": "composer-model", "composer": json.dumps(meta)}))


def _set(key, value):
    return lambda meta: meta["copy_index"].__setitem__(key, value)


@pytest.mark.parametrize("meta_change, tensor_change, problem", [
    (lambda m: m.__setitem__("copy_index", [1, 2]), None, "not an object"),
    (lambda m: m.__setitem__("copy_index", "x"), None, "not an object"),
    (_set("anchor", float("inf")), None, "anchor must be a whole number of notes in 2..64"),
    (_set("anchor", 200_000), None, "anchor must be"),
    (_set("anchor", True), None, "anchor must be"),
    (_set("names", ["a.mid", "a.mid"]), None, "names must be a list of different file names"),
    (_set("names", "ab"), None, "names must be a list"),
    (None, lambda t: t.__setitem__(COPY_PREFIX + "symbols",
                                   t[COPY_PREFIX + "symbols"].to(__import__("torch").bfloat16)),
     "damaged copy index"),
    (None, lambda t: t.__setitem__(COPY_PREFIX + "symbols", t[COPY_PREFIX + "symbols"].float()),
     "must be a 1-D array of whole numbers"),
    (None, lambda t: t.__setitem__(COPY_PREFIX + "lengths", t[COPY_PREFIX + "lengths"].long() * 0 + 2**62),
     "lengths do not fit"),
    (None, lambda t: t.__setitem__(COPY_PREFIX + "symbols", t[COPY_PREFIX + "symbols"] + 2**30),
     "notes must be in 0.."),
])
def test_a_hostile_stored_index_costs_the_meter_not_the_model(tmp_path, tiny, capsys, meta_change, tensor_change,
                                                              problem):
    model, tok = tiny
    path = save_model(tmp_path / "m.model", model, tok,
                      copy_index=CopyIndex.from_notes({"a.mid": tune(1), "b.mid": tune(2)}))
    _rewrite(path, meta_change, tensor_change)
    loaded = load_model(path)                                    # the weights load
    with pytest.raises(ModelFileError, match="m.model: damaged copy index") as error:
        loaded.copy_index()
    assert problem in str(error.value)
    assert main(["info", str(path)]) == 0                        # info shows the file, whatever its index says
    capsys.readouterr()
    out = tmp_path / "out"
    assert main(["generate", "--model", str(path), "--bars", "1", "--quiet", "--out", str(out)]) == 0
    assert main(["generate", "--model", str(path), "--bars", "1", "--quiet", "--out", str(out), "--force",
                 "--max-copy", "8"]) == 2
    assert "damaged copy index" in capsys.readouterr().err
    assert main(["copy-index", str(path), "--remove"]) == 0      # and the file can be repaired
    assert load_model(path).copy_index() is None


@pytest.mark.parametrize("notes, names", [(None, ["a.mid"]), ("x", 5), (12, None)])
def test_info_shows_odd_copy_index_metadata_without_failing(tmp_path, tiny, capsys, notes, names):
    model, tok = tiny
    path = save_model(tmp_path / "m.model", model, tok, copy_index=CopyIndex.from_notes({"a.mid": tune(1)}))
    _rewrite(path, lambda m: m["copy_index"].update(notes=notes, names=names))
    assert main(["info", str(path)]) == 0
    assert "copy index:      " in capsys.readouterr().out
