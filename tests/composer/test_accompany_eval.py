"""A folder of multi-track files -> `train --objective accompany` -> `eval` of the harmoniser."""
from __future__ import annotations

import json

import pytest
from tinyharmony import arrangements

from benchmarks.midi_factory import melody, write_song
from composer.cli.main import main
from composer.representations.accompany.extract import arrangement_to_song
from composer.representations.accompany.grid import AccompanyConfig

SATB = AccompanyConfig(voices=("alto", "tenor", "bass"))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(folder of 10 four-part files, a harmoniser trained on it with the train command)."""
    root = tmp_path_factory.mktemp("acc")
    folder = root / "pieces"
    for arr in arrangements(SATB, 10):
        write_song(arrangement_to_song(arr, SATB), folder / f"{arr.name}.mid")
    model = root / "satb.model"
    assert main(["train", str(folder), "--objective", "accompany", "--voices", "alto,tenor,bass", "--out",
                 str(model), "--steps", "8", "--hidden", "32", "--embed", "16", "--layers", "1", "--batch", "4",
                 "--seq-len", "32", "--eval-every", "4", "--workers", "1", "--cache-dir", str(root / "cache"),
                 "--quiet"]) == 0
    return folder, model


def test_train_reports_bits_per_chord_label_and_per_voice_note(trained, capsys):
    folder, model = trained
    assert main(["info", str(model)]) == 0
    out = capsys.readouterr().out
    assert "training.val_bits_per_chord:" in out and "training.val_bits_per_voice_note:" in out


def test_eval_sets_the_model_beside_the_baselines_and_the_folder(trained, tmp_path, capsys):
    folder, model = trained
    report = tmp_path / "eval.json"
    capsys.readouterr()
    assert main(["eval", str(model), str(folder), "--json", str(report), "--samples", "2", "--workers", "1",
                 "--quiet"]) == 0
    table = capsys.readouterr().out
    for row in ("this model", "chord for the melody note", "chord bigram", "chord tones on strong beats",
                "parallel fifths per bar", "voice crossings per bar"):
        assert row in table
    assert "files not in the training split" in table        # the training folder is on this machine
    result = json.loads(report.read_text())
    model_bits = result["likelihood"]["model"]
    assert model_bits["bits_per_chord"] > 0 and model_bits["bits_per_voice_note"] > 0
    assert model_bits["pieces"] == len(result["split"]["eval_files"]) >= 1
    assert set(result["likelihood"]["baselines"]) == {"melody_note", "bigram", "uniform"}
    assert result["harmony"]["generated"]["chord tones on strong beats"] is not None
    assert result["generation"]["pieces"] <= 2


def test_eval_of_a_harmoniser_has_no_html_report(trained, tmp_path, capsys):
    folder, model = trained
    capsys.readouterr()
    assert main(["eval", str(model), str(folder), "--html", str(tmp_path / "r.html"), "--quiet"]) == 2
    assert "the HTML report is for melody models" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


def test_a_folder_without_accompaniment_is_one_line_and_no_model(tmp_path, capsys):
    for i in range(3):
        write_song(melody(24, seed=i), tmp_path / "tunes" / f"t{i}.mid")
    capsys.readouterr()
    assert main(["train", str(tmp_path / "tunes"), "--objective", "accompany", "--out", str(tmp_path / "m.model"),
                 "--steps", "2", "--workers", "1", "--cache-dir", str(tmp_path / "cache"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and "no file with accompaniment" in err[-1]
    assert not (tmp_path / "m.model").exists()
