"""Model files with odd metadata: a fuzz test mutates the shipped models'
metadata (wrong types, nulls, deep nesting, out-of-range numbers, zero
denominators, oversized lists) and every case ends in one line naming the
file, and exit 2, from `info`, `generate` and `infill`; the app's model
picker shows the same message. Files of format versions 1-3 still load."""
from __future__ import annotations

import json

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from safetensors import safe_open
from safetensors.torch import save

from composer.assets import INFILL_MODEL, MELODY_MODEL, asset_path
from composer.cli.main import main
from composer.errors import ModelFileError
from composer.model.copyindex import CopyIndex
from composer.model.modelfile import _checked, load_model, read_metadata, save_model
from composer.model.network import ModelConfig, MusicRNN
from composer.music.midifile import write_midi
from composer.music.song import Note, Song, Track
from composer.representations.melody import MelodyTokenizer

DEEP = 100_000


def _shipped(name: str) -> tuple[dict, dict]:
    with safe_open(str(asset_path(name)), framework="pt") as handle:
        return {k: handle.get_tensor(k) for k in handle.keys()}, json.loads(handle.metadata()["composer"])


def _leaves(value, path=()):
    """(path, value) of every scalar in `value`, lists and objects walked."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _leaves(item, (*path, i))
    else:
        yield path, value


def _name(path) -> str:
    """A field's name as the messages write it: model.hidden_size, ...time_signatures[0][1]."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _wrong_types(value) -> list:
    if isinstance(value, bool):
        return [1, "true"]
    if isinstance(value, (int, float)):
        return ["12", [value], {"v": value}]
    if isinstance(value, str):
        return [12, [value]]
    return [[1], {}]                          # null (track): neither a number, a text nor null


def _mutations(meta: dict, infill: bool):
    """(case id, field name or None, the change) of every mutation to try."""
    checked = [(p, v) for p, v in _leaves({k: meta[k] for k in ("model", "representation")})
               if not (len(p) > 3 and p[2] == "time_signatures" and p[3] > 1)]      # two meters are enough
    for path, value in checked:                                    # every model and representation field
        for bad in _wrong_types(value) + ([None] if value is not None else []):
            yield f"{_name(path)}={json.dumps(bad)}", _name(path), (path, bad)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            for bad in (10**12, -1):
                yield f"{_name(path)}={bad}", _name(path), (path, bad)
    for i in range(2):                                             # zero denominators and numerators
        for side in (0, 1):
            path = ("representation", "config", "time_signatures", i, side)
            yield f"{_name(path)}=0", _name(path), (path, 0)
    sections = [("model",), ("representation",), ("representation", "config"), ("vocabulary",),
                ("training",), ("training", "corpus"), ("training", "train_config"), ("library_versions",)]
    for path in sections:
        for bad in (None, [1, 2] if path[-1] != "vocabulary" else {"a": 1}, "x" if path[-1] != "corpus" else 5):
            yield f"{_name(path)}={json.dumps(bad)}", _name(path), (path, bad)
    yield "format_version=0", "format_version", (("format_version",), 0)
    yield "vocabulary[0]=null", "vocabulary[0]", (("vocabulary", 0), None)
    yield "dropout=1", "model.dropout", (("model", "dropout"), 1.0)
    yield "pitch_high=128", "representation.config.pitch_high", (("representation", "config", "pitch_high"), 128)
    yield "val_share=2", "training.train_config.val_share", (("training", "train_config", "val_share"), 2)
    yield "val_bits=text", "training.val_bits_per_note", (("training", "val_bits_per_note"), "low")
    yield "unknown field", "model.heads", (("model", "heads"), 8)
    yield "long created", "created", (("created",), "x" * 10_000)
    yield "huge vocabulary", "vocabulary", (("vocabulary",), ["t"] * 200_000)
    yield "free nesting", "training.notes" + "[0]" * 8, (("training", "notes"), [[[[[[[[[["deep"]]]]]]]]]])
    for where in ("", "model.hidden_size", "training.train_config.folder", "vocabulary[3]"):  # nesting text
        yield f"deep at {where or 'top'}", None, ("deep", where)
    yield "40 deep", None, ("text", json.dumps({**meta, "x": json.loads("[" * 40 + "]" * 40)}))
    if infill:
        yield "architecture=plain", "model.architecture", (("model", "architecture"), "plain")


def _apply(meta: dict, change) -> str:
    """The metadata text with `change` made."""
    kind, target = change
    if kind == "text":
        return target
    if kind == "deep":
        nest = "[" * DEEP + "]" * DEEP
        if not target:
            return json.dumps(meta)[:-1] + f', "x": {nest}}}'
        marker = "@@DEEP@@"
        meta = json.loads(json.dumps(meta))
        _set(meta, tuple(int(p) if p.isdigit() else p for p in target.replace("[", ".").replace("]", "").split(".")),
             marker)
        return json.dumps(meta).replace(f'"{marker}"', nest)
    meta = json.loads(json.dumps(meta))
    _set(meta, kind, target)
    return json.dumps(meta)


def _set(meta, path, value) -> None:
    for part in path[:-1]:
        meta = meta[part]
    meta[path[-1]] = value


CASES = [(name, case_id, field, change) for name in (MELODY_MODEL, INFILL_MODEL)
         for case_id, field, change in _mutations(_shipped(name)[1], name == INFILL_MODEL)]


@pytest.fixture(scope="module")
def shipped():
    return {name: _shipped(name) for name in (MELODY_MODEL, INFILL_MODEL)}


@pytest.fixture(scope="module")
def song_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("song") / "tune.mid"
    write_midi(Song(tracks=[Track(notes=[Note(i * 0.5, i * 0.5 + 0.5, 60 + i % 8) for i in range(32)])]), path)
    return path


def mutated_file(tmp_path, shipped, name, change):
    tensors, meta = shipped[name]
    path = tmp_path / "odd.model"
    path.write_bytes(save(tensors, metadata={"format": "composer-model", "composer": _apply(meta, change)}))
    return path


def one_error_line(capsys, path, field) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and path.name in lines[0], err[-2000:]
    if field is not None:
        assert f"metadata field {field} " in lines[0], lines[0]
    return lines[0][len("error: "):]


@pytest.mark.parametrize("name, case_id, field, change", CASES, ids=[f"{c[0][:-6]}:{c[1]}" for c in CASES])
def test_odd_metadata_is_one_line_and_exit_2_from_every_command(tmp_path, capsys, shipped, song_file, name,
                                                                  case_id, field, change):
    path = mutated_file(tmp_path, shipped, name, change)
    assert main(["info", str(path)]) == 2
    message = one_error_line(capsys, path, field)
    assert main(["generate", "--model", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    assert one_error_line(capsys, path, field) == message
    assert main(["infill", str(path), str(song_file), "--bars", "2", "--out", str(tmp_path / "out"), "--quiet"]) == 2
    assert one_error_line(capsys, path, field) == message
    assert not (tmp_path / "out").exists()


def test_the_fuzz_cases_cover_every_kind_of_damage():
    ids = " ".join(case_id for _, case_id, _, _ in CASES)
    assert len(CASES) > 150
    for kind in ("=null", '="12"', "=1000000000000", "=-1", "[1]=0", "deep at", "huge vocabulary"):
        assert kind in ids, kind


def test_the_shipped_models_and_every_format_version_load(tmp_path):
    for name in (MELODY_MODEL, INFILL_MODEL):
        assert load_model(asset_path(name)).model.num_parameters() > 0
    tok = MelodyTokenizer()
    made = {}
    for version, config, index in [(1, {}, None), (2, {}, CopyIndex.from_notes({"a.mid": _tune()})),
                                   (3, {"lookback": (1, 2)}, None)]:
        model = MusicRNN(ModelConfig(vocab_size=tok.vocab_size, hidden_size=16, embed_dim=8, num_layers=1,
                                     position_classes=tok.position_classes, **config))
        path = save_model(tmp_path / f"v{version}.model", model, tok, {"steps": 1}, copy_index=index)
        made[version] = read_metadata(path)["format_version"]
        load_model(path)
    assert made == {1: 1, 2: 2, 3: 3}


def _tune() -> list[Note]:
    return [Note(i * 0.5, i * 0.5 + 0.5, 60 + i % 5) for i in range(16)]


def test_a_config_asking_for_more_weights_than_the_file_holds_is_refused_before_allocating(tmp_path, shipped):
    tensors, meta = shipped[MELODY_MODEL]
    meta = json.loads(json.dumps(meta))
    meta["model"].update(num_layers=64, hidden_size=8192, embed_dim=8192)     # 137 GB of weights
    path = tmp_path / "big.model"
    path.write_bytes(save(tensors, metadata={"format": "composer-model", "composer": json.dumps(meta)}))
    expected = r"weights do not match the model config \(\S+ is \[\d+, (128|256)\], the config says"
    with pytest.raises(ModelFileError, match=expected):
        load_model(path)


def test_the_model_picker_shows_the_message_of_the_command_line(qtbot, make_window, tmp_path, capsys, shipped):
    window = make_window()
    view = window.generate_view
    for i, (name, _, field, change) in enumerate(CASES[::7]):
        (tmp_path / str(i)).mkdir()
        path = mutated_file(tmp_path / str(i), shipped, name, change)
        assert main(["info", str(path)]) == 2
        message = one_error_line(capsys, path, field)
        view.add_model(path)
        assert view.current_entry().path == path
        assert view.model_info.text() == f"Cannot use this file: {message}"
        assert not view.generate_button.isEnabled()


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                                        max_size=3), max_leaves=12)
MELODY_META = _shipped(MELODY_MODEL)[1]
PLACES = [path for path, _ in _leaves(MELODY_META)
          if path[0] not in ("copy_index", "library_versions") and not (path[0] == "vocabulary" and path[1] > 2)]


@settings(max_examples=300, deadline=None)
@given(place=st.sampled_from(PLACES), depth=st.integers(0, 3), value=JSON_VALUES)
@example(place=("format_version",), depth=0, value="\n")           # the bad value shown must stay on one line
def test_any_value_anywhere_is_accepted_or_refused_in_one_modelfileerror(place, depth, value):
    meta = json.loads(json.dumps(MELODY_META))
    _set(meta, place[:len(place) - depth] or place[:1], value)
    header = {"__metadata__": {"format": "composer-model", "composer": json.dumps(meta)}}
    try:
        _checked(header, "odd.model")
    except ModelFileError as exc:
        assert "\n" not in str(exc) and str(exc).count("odd.model") == 1
