"""Transposition and dropout chosen for the folder (training/sizing.py): the
rule, the trainer applying it only to what was not given, and the CLI and
the Train tab showing the same choice."""
from __future__ import annotations

import dataclasses

from composer.corpus.ingest import FileResult, IngestReport
from training.config import DEFAULT_DROPOUT, MELODY_TRANSPOSE, TrainConfig
from training.sizing import SMALL_DROPOUT, SMALL_FOLDER_NOTES, SMALL_TRANSPOSE, choose, resolve


def report_of(notes_per_file: list[int]) -> IngestReport:
    files = [FileResult(path=f"f{i}.mid", status="used", n_notes=n, n_tokens=3 * n)
             for i, n in enumerate(notes_per_file)]
    files.append(FileResult(path="bad.mid", status="skipped", reason="no notes"))
    return IngestReport(folder="x", representation="melody", files=files)


def test_a_small_folder_gets_wider_transposition_and_more_dropout():
    small, usual = choose(SMALL_FOLDER_NOTES - 1, 50), choose(SMALL_FOLDER_NOTES, 80)
    assert (small.transpose, small.dropout, small.small) == (SMALL_TRANSPOSE, SMALL_DROPOUT, True)
    assert (usual.transpose, usual.dropout, usual.small) == (MELODY_TRANSPOSE, DEFAULT_DROPOUT, False)
    assert SMALL_TRANSPOSE[0] < MELODY_TRANSPOSE[0] and SMALL_DROPOUT > DEFAULT_DROPOUT
    assert choose(100, 2, "performance").transpose == (0, 0)
    text = " ".join(small.lines())
    assert "50 file(s)" in text and f"{SMALL_FOLDER_NOTES - 1:,} notes" in text and "small folder" in text


def test_resolve_fills_only_what_was_not_given():
    report = report_of([100] * 20)                          # 2,000 notes: small; the skipped file does not count
    config, sizing = resolve(TrainConfig(folder="x", out="y.model"), report)
    assert (config.transpose, config.dropout) == (SMALL_TRANSPOSE, SMALL_DROPOUT)
    assert sizing.notes == 2000 and sizing.files == 20
    given = TrainConfig(folder="x", out="y.model", transpose=(0, 0), dropout=0.2)
    assert resolve(given, report) == (given, None)
    half = resolve(dataclasses.replace(given, dropout=None), report)[0]
    assert (half.transpose, half.dropout) == ((0, 0), SMALL_DROPOUT)


def test_train_uses_prints_and_stores_the_choice(tmp_path, capsys):
    from benchmarks.midi_factory import melody, write_song
    from composer.cli.main import main
    from composer.model.modelfile import read_metadata
    for i in range(4):
        write_song(melody(40, seed=i), tmp_path / "small" / f"t{i}.mid")
    model = tmp_path / "m.model"
    assert main(["train", str(tmp_path / "small"), "--out", str(model), "--steps", "2", "--layers", "1",
                 "--hidden", "16", "--embed", "8", "--batch", "2", "--seq-len", "16", "--workers", "1",
                 "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "chosen for 4 file(s), 160 notes (a small folder): transposition -5..+6 semitones, dropout 0.5" in err
    stored = read_metadata(model)["training"]["train_config"]
    assert stored["dropout"] == SMALL_DROPOUT and stored["transpose"] == list(SMALL_TRANSPOSE)
    assert main(["train", str(tmp_path / "small"), "--out", str(model), "--steps", "2", "--layers", "1",
                 "--hidden", "16", "--embed", "8", "--batch", "2", "--seq-len", "16", "--workers", "1",
                 "--dropout", "0.1", "--transpose", "0", "--force", "--quiet"]) == 0
    assert "chosen for" not in capsys.readouterr().err
    stored = read_metadata(model)["training"]["train_config"]
    assert stored["dropout"] == 0.1 and stored["transpose"] == [0, 0]


def test_a_run_resumes_with_the_dropout_it_started_with(tmp_path, capsys):
    """A checkpoint made before the folder chose (or with --dropout) resumes under the default options."""
    from benchmarks.midi_factory import melody, write_song
    from composer.cli.main import main
    from composer.model.modelfile import read_metadata
    for i in range(4):
        write_song(melody(40, seed=i), tmp_path / "small" / f"t{i}.mid")
    model = tmp_path / "m.model"
    tiny = ["--layers", "2", "--hidden", "16", "--embed", "8", "--batch", "2", "--seq-len", "16", "--workers", "1",
            "--checkpoint-every", "2", "--quiet"]
    assert main(["train", str(tmp_path / "small"), "--out", str(model), "--steps", "2", "--dropout", "0.3",
                 *tiny]) == 0
    assert main(["train", str(tmp_path / "small"), "--out", str(model), "--steps", "4", "--resume", *tiny]) == 0
    assert "differs" not in capsys.readouterr().err
    meta = read_metadata(model)
    assert meta["training"]["steps"] == 4 and meta["training"]["train_config"]["dropout"] == 0.3
