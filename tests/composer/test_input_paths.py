"""Inputs as the system gives them: anything that is not a regular file of
sane size (a FIFO, a huge file) is refused in one line before it is read,
and paths that are not UTF-8 work for every input and output option.
Tests make their own FIFOs and sparse files; they never touch /dev."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from benchmarks.midi_factory import melody, write_song
from composer.cli.main import main
from composer.errors import MidiReadError, ModelFileError
from composer.model.modelfile import load_model, read_metadata
from composer.music.midifile import read_midi
from composer.paths import shown
from tests.tinymodels import tiny_model_file

TINY = ["--layers", "1", "--hidden", "16", "--embed", "8", "--batch", "4", "--seq-len", "24",
        "--eval-every", "1", "--checkpoint-every", "1", "--workers", "1", "--quiet"]


def name(raw: bytes) -> str:
    """A file name as Python hands over one that is not UTF-8 (argv does the same)."""
    return os.fsdecode(raw)


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return tiny_model_file(tmp_path_factory.mktemp("model") / "tiny.model", steps=5)


def one_line(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


# ---- not a regular file of sane size -----------------------------------------------

@pytest.mark.timeout(60)        # reading a FIFO would block: fail instead of hanging
def test_a_fifo_is_refused_as_primer_song_and_model_without_blocking(tmp_path, capsys, model):
    fifo = tmp_path / "pipe.mid"
    os.mkfifo(fifo)
    out = ["--out", str(tmp_path / "out"), "--quiet"]
    assert main(["generate", "--model", str(model), "--primer", str(fifo), *out]) == 2
    assert one_line(capsys) == f"error: {fifo} is a FIFO (named pipe), not a MIDI file"
    assert main(["infill", str(model), str(fifo), "--bars", "1", *out]) == 2
    assert one_line(capsys) == f"error: {fifo} is a FIFO (named pipe), not a MIDI file"
    for command in (["info", str(fifo)], ["generate", "--model", str(fifo), *out]):
        assert main(command) == 2
        assert one_line(capsys) == f"error: {fifo} is a FIFO (named pipe), not a model file"
    assert not (tmp_path / "out").exists()


@pytest.mark.timeout(60)
def test_a_fifo_in_a_copy_folder_is_skipped_without_blocking(tmp_path, capsys, model):
    folder = tmp_path / "tunes"
    write_song(melody(40, seed=1), folder / "a.mid")
    os.mkfifo(folder / "b.mid")
    assert main(["generate", "--model", str(model), "--out", str(tmp_path / "out"), "--quiet", "--bars", "2",
                 "--max-copy", "8", "--copy-folder", str(folder)]) == 0
    assert "wrote 1 file(s)" in capsys.readouterr().err


@pytest.mark.timeout(60)
def test_the_apps_open_primer_refuses_a_fifo(qtbot, make_window, tmp_path):
    fifo = tmp_path / "pipe.mid"
    os.mkfifo(fifo)
    window = make_window()
    errors = []
    window.dialogs.error = lambda title, message, details="": errors.append((title, message))
    window.dialogs.open_file = lambda caption, folder, file_filter: str(fifo)
    window.generate_view.open_primer()
    assert errors == [("Cannot use this primer", f"{fifo} is a FIFO (named pipe), not a MIDI file")]
    assert window.generate_view.primer is None


def test_huge_sparse_files_are_refused_by_their_size_before_reading(tmp_path, capsys, model):
    primer, big_model = tmp_path / "huge.mid", tmp_path / "huge.model"
    for path, size in ((primer, 10**10), (big_model, 3 * 10**9)):
        with open(path, "wb") as handle:
            handle.truncate(size)              # sparse: no disk space, no memory
    assert main(["generate", "--model", str(model), "--primer", str(primer), "--out", str(tmp_path / "o")]) == 2
    assert one_line(capsys) == f"error: {primer}: file too large (10,000,000,000 bytes, limit 4,000,000)"
    assert main(["info", str(big_model)]) == 2
    assert one_line(capsys) == f"error: {big_model}: file too large (3,000,000,000 bytes, limit 2,000,000,000)"
    with pytest.raises(MidiReadError, match="file too large"):
        read_midi(primer)


# ---- paths that are not UTF-8 -----------------------------------------------------

def test_every_input_and_output_option_takes_a_path_that_is_not_utf8(tmp_path, capsys):
    folder = tmp_path / name(b"caf\xe9-tunes")
    for i in range(4):
        write_song(melody(40, seed=i), folder / name(b"t%d\xe9.mid" % i))
    song = folder / name(b"t0\xe9.mid")
    model, report = tmp_path / name(b"mod\xe9l.model"), tmp_path / name(b"rep\xe9.json")
    assert main(["train", str(folder), "--steps", "2", "--out", str(model), "--report", str(report), *TINY]) == 0
    assert model.is_file() and report.is_file() and read_metadata(model)["format_version"] >= 1
    assert "mod\ufffdl.model" in capsys.readouterr().err           # shown with a replacement character
    assert main(["info", str(model)]) == 0
    assert f"file:            {shown(model)}" in capsys.readouterr().out

    out = tmp_path / name(b"out\xe9")
    assert main(["generate", "--model", str(model), "--primer", str(song), "--out", str(out), "--prefix",
                 name(b"p\xe9"), "--bars", "2", "--quiet", "--max-copy", "8", "--copy-folder", str(folder)]) == 0
    assert [os.fsencode(p.name)[:3] for p in out.iterdir()] == [b"p\xe9_"]
    assert f"wrote 1 file(s) to {shown(out)}/" in capsys.readouterr().err

    infilled = tmp_path / name(b"inf\xe9")
    assert main(["infill", str(model), str(song), "--bars", "2", "--count", "1", "--out", str(infilled),
                 "--quiet"]) == 0
    assert [os.fsencode(p.name) for p in infilled.iterdir()] == [b"t0\xe9-infill-01.mid"]

    json_out, html_out = tmp_path / name(b"ev\xe9.json"), tmp_path / name(b"ev\xe9.html")
    assert main(["eval", str(model), str(folder), "--json", str(json_out), "--html", str(html_out),
                 "--samples", "2", "--bars", "2", "--quiet"]) == 0
    assert json_out.is_file() and "\ufffd" in html_out.read_text(encoding="utf-8")
    capsys.readouterr()
    assert main(["info", str(tmp_path / name(b"absent\xe9.model"))]) == 2
    assert one_line(capsys) == f"error: {shown(tmp_path)}/absent\ufffd.model: no such model file"


def test_a_model_file_at_a_path_that_is_not_utf8_loads(tmp_path, model):
    odd = tmp_path / name(b"\xff\xfe.model")
    odd.write_bytes(model.read_bytes())
    assert load_model(odd).model.num_parameters() == load_model(model).model.num_parameters()
    with pytest.raises(ModelFileError, match="\ufffd\ufffd.model: no such model file"):
        read_metadata(tmp_path / name(b"\xff\xfd.model"))


def test_shown_replaces_only_the_bytes_that_are_not_utf8():
    assert shown(name(b"caf\xc3\xa9/t\xe9.mid")) == "café/t\ufffd.mid"
    assert shown(Path(name(b"a\xff"))) == "a\ufffd"
    assert shown(b"plain") == "plain"
