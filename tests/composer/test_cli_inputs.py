"""Command-line input checks found in a QA pass: each bad input is one line
and exit code 2 before anything is written."""
from __future__ import annotations

import pytest

from composer.cli.main import main
from composer.errors import ComposerError
from composer.model.modelfile import save_model
from composer.services.generate import parse_note_list
from tests.tinymodels import tiny_model_file, train_tiny


@pytest.mark.parametrize("text, pitches", [
    ("Cb4 B#3 C4", [59, 60, 60]),          # the letter names the octave: Cb4 is B3, B#3 is C4
    ("Cb5 B#4 Fb4 E#4", [71, 72, 64, 65]),
    ("C#4 Db4 Bb3 B3 A4", [61, 61, 58, 59, 69]),
    ("C-1 G9 60", [0, 127, 60]),
])
def test_primer_note_names_across_the_octave_boundary(text, pitches):
    assert [n.pitch for n in parse_note_list(text)] == pitches


def test_primer_note_with_a_zero_denominator_is_refused():
    with pytest.raises(ComposerError, match="'C4:1/0' divides by zero"):
        parse_note_list("C4:1/0")


@pytest.fixture(scope="module")
def melody_model(tmp_path_factory):
    return tiny_model_file(tmp_path_factory.mktemp("m") / "m.model", steps=3)


def run(capsys, *args) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().err


@pytest.mark.parametrize("extra, message", [
    (["--prefix", "../escaped"], "prefix must be a name without folders, got '../escaped'"),
    (["--prefix", "sub/x"], "got 'sub/x'"),
    (["--max-copy", "2"], "max copy must be 0 or >= 4 notes"),
    (["--bars", "4", "--seconds", "8"], "give a length in bars or in seconds, not both"),
    (["--primer", "C4:1/0"], "divides by zero"),
])
def test_generate_refuses_before_writing(tmp_path, capsys, melody_model, extra, message):
    code, err = run(capsys, "generate", "--model", str(melody_model), "--out", str(tmp_path / "out"), "--quiet",
                    *extra)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob("*.mid"))


def test_generate_and_infill_say_when_out_is_a_file(tmp_path, capsys, melody_model):
    (tmp_path / "afile").write_text("x")
    code, err = run(capsys, "generate", "--model", str(melody_model), "--out", str(tmp_path / "afile"), "--quiet")
    assert code == 2 and f"{tmp_path / 'afile'} is a file, not a folder to write into" in err
    code, err = run(capsys, "generate", "--model", str(melody_model), "--out", str(tmp_path / "afile" / "x"),
                    "--quiet")
    assert code == 2 and "is a file, not a folder" in err


def test_time_signature_is_refused_for_a_performance_model(tmp_path, capsys):
    model, tok = train_tiny("performance", steps=2)
    path = save_model(tmp_path / "p.model", model, tok)
    code, err = run(capsys, "generate", "--model", str(path), "--time-signature", "3/4", "--out",
                    str(tmp_path / "out"), "--quiet")
    assert code == 2 and "time signature 3/4 is for melody models" in err


def test_a_file_that_is_not_a_soundfont_fails_before_any_midi_is_written(tmp_path, capsys, melody_model):
    from composer.sound.audio import audio_status
    if not audio_status()[0]:
        pytest.skip(audio_status()[1])
    (tmp_path / "song.sf2").write_bytes(b"RIFF not really a soundfont")
    code, err = run(capsys, "generate", "--model", str(melody_model), "--audio", "wav", "--soundfont",
                    str(tmp_path / "song.sf2"), "--out", str(tmp_path / "out"), "--quiet")
    assert code == 2 and "is not a SoundFont FluidSynth can load" in err
    assert not list(tmp_path.rglob("*.mid"))


def test_copy_index_remove_says_when_there_is_nothing_to_remove(tmp_path, capsys, melody_model):
    code, err = run(capsys, "copy-index", str(melody_model), "--remove")
    assert code == 0 and "holds no copy index: nothing to remove" in err


def test_a_few_bytes_starting_like_a_pickle_are_a_truncated_file(tmp_path, capsys):
    (tmp_path / "short.model").write_bytes(b"\x80\x04\x95\x00\x00")
    code, err = run(capsys, "info", str(tmp_path / "short.model"))
    assert code == 2 and "truncated file (5 bytes)" in err


@pytest.mark.parametrize("prefix", ["y" * 240, "é" * 120])
def test_a_long_legal_file_name_is_written(tmp_path, capsys, melody_model, prefix):
    """The atomic write's temp name used to be the whole name plus 13 bytes: over the 255-byte limit."""
    code, err = run(capsys, "generate", "--model", str(melody_model), "--bars", "1", "--prefix", prefix,
                    "--seed", "1", "--out", str(tmp_path / "out"), "--quiet")
    assert code == 0, err
    written = list((tmp_path / "out").iterdir())
    assert len(written) == 1 and written[0].name.startswith(prefix) and len(written[0].name.encode()) > 240


def test_a_file_name_over_255_bytes_is_refused_before_generating(tmp_path, capsys, melody_model):
    code, err = run(capsys, "generate", "--model", str(melody_model), "--prefix", "y" * 250, "--seed", "1",
                    "--out", str(tmp_path / "out"), "--quiet")
    assert code == 2 and "bytes, the limit is 255: use a shorter prefix" in err and not (tmp_path / "out").exists()
