"""`train FOLDER --representation frames` on multi-part files built in code,
then `info`, `generate` (bars, seconds, a meter) and `eval` on the model."""
from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.midi_factory import write_song
from composer.cli.main import main
from composer.model.modelfile import read_metadata
from composer.music.midifile import read_midi
from composer.music.song import Note, Song, Track
from composer.representations.frames import FramesTokenizer
from tests.training.test_train_cli import TINY

CHORDS = [(48, 55, 64, 72), (53, 57, 65, 72), (55, 59, 67, 74), (48, 55, 64, 72)]


def chorale(offset: int) -> Song:
    """Four parts in four tracks: half notes in the bass, quarters above, a
    repeated note in the alto (two notes of one pitch, one after the other)."""
    parts = [Track(name=name, program=52) for name in ("Soprano", "Alto", "Tenor", "Bass")]
    for bar, chord in enumerate(CHORDS * 2):
        for voice, pitch in enumerate(reversed(chord)):
            length = 2.0 if voice == 3 else 1.0
            for start in (0.0, 1.0, 2.0, 3.0)[::int(length)]:
                parts[voice].notes.append(Note(bar * 4 + start, bar * 4 + start + length, pitch + offset))
    return Song(tracks=parts, tempos=[(0.0, 90.0)], time_signatures=[(0.0, 4, 4)])


@pytest.fixture(scope="module")
def frames_model(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("chorales")
    for k in range(4):
        write_song(chorale(k - 2), root / "chorales" / f"chorale{k}.mid")
    model = root / "chorales.model"
    assert main(["train", str(root / "chorales"), "--representation", "frames", "--out", str(model),
                 "--steps", "4", "--cache-dir", str(root / "cache"), *TINY]) == 0
    return model


def test_four_parts_become_frames_of_four_pitches():
    tok = FramesTokenizer()
    frames = tok.decode_frames(tok.encode(chorale(0)).tokens)
    assert len(frames) == 8 * 4 * 4                      # 8 bars of 4 beats, 4 frames a beat
    assert all(len(frame) == 4 for frame in frames)
    assert frames[0] == list(CHORDS[0])


def test_a_frames_model_is_trained_and_described(frames_model, capsys):
    rep = read_metadata(frames_model)["representation"]
    assert rep["kind"] == "frames" and rep["config"]["frame_cycle"] == rep["config"]["steps_per_quarter"] == 4
    assert main(["info", str(frames_model)]) == 0
    assert "representation:  frames" in capsys.readouterr().out


@pytest.mark.parametrize("length, meter, beats", [(["--bars", "2"], [], 8.0),
                                                  (["--seconds", "3", "--tempo", "60"], [], 4.0),
                                                  (["--bars", "2"], ["--time-signature", "3/4"], 6.0)])
def test_generate_writes_the_length_asked_for(frames_model, tmp_path, length, meter, beats):
    out = tmp_path / "songs"
    assert main(["generate", "--model", str(frames_model), "--count", "2", "--seed", "3", "--out", str(out),
                 "--quiet", *length, *meter]) == 0
    files = sorted(out.glob("frames_*.mid"))
    assert len(files) == 2
    for path in files:
        song = read_midi(path)
        assert song.notes and max(n.end for n in song.notes) <= beats + 1e-6
        assert song.time_signature == ((3, 4) if meter else (4, 4))


def test_eval_reports_the_texture_of_a_frames_model(frames_model, tmp_path, capsys):
    assert main(["eval", str(frames_model), str(frames_model.parent / "chorales"), "--samples", "2", "--bars", "2",
                 "--workers", "1", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "voices at once" in out and "notes ended at the" not in out and "performance" not in out
    assert "a frames model writes all parts" in out
    folder_voices = next(line for line in out.splitlines() if line.startswith("voices at once")).split()[-1]
    assert float(folder_voices) == pytest.approx(4.0)
