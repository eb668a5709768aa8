"""Drums end to end: `train --representation drums` on drum files built in code,
then drums under songs (the service, `composer drums`, `generate --drums`)
with exact bars in each meter, seeds, and the messages for the wrong model."""
from __future__ import annotations

import dataclasses

import pytest
from drumsongs import band_song

from benchmarks.midi_factory import write_song
from composer.cli.main import main
from composer.errors import ComposerError
from composer.model.modelfile import load_model
from composer.music.midifile import read_midi, write_midi
from composer.music.song import Song
from composer.representations.drums import DrumsTokenizer
from composer.services.drums import DrumsRequest, add_drums, require_drums_model, song_bars, with_drums
from composer.services.generate import GenerateRequest, prepare
from training.trainer import TrainConfig, train

METERS = [(4, 4), (3, 4), (6, 8), (7, 8)]


def drums_config(tmp_path, **changes) -> TrainConfig:
    folder = tmp_path / "midi"
    for i, ts in enumerate(METERS * 2):
        write_song(band_song(6, ts, seed=i), folder / f"band{i}.mid")
    write_song(band_song(6, drums=False), folder / "no-drums.mid")
    base = TrainConfig(folder=str(folder), out=str(tmp_path / "drums.model"), representation="drums", layers=1,
                       hidden=24, embed=12, steps=12, batch=4, seq_len=48, warmup_steps=3, eval_every=4,
                       checkpoint_every=4, log_every=2, cache_dir=str(tmp_path / "cache"), workers=1, val_share=0.25,
                       report=str(tmp_path / "report.json"))
    return dataclasses.replace(base, **changes)


@pytest.fixture(scope="module")
def drums_model(tmp_path_factory):
    result = train(drums_config(tmp_path_factory.mktemp("drums")))
    return result.model_path


def test_training_writes_a_drums_model_and_reports_the_files_without_drums(drums_model):
    loaded = load_model(drums_model)
    assert loaded.tokenizer.kind == "drums" and loaded.model.config.position_classes > 1
    assert not loaded.copy_arrays                 # the copy meter reads melodies: no index of drums
    report = (drums_model.parent / "report.json").read_text()
    assert '"reason": "no drum track"' in report and report.count('"status": "used"') == 8


@pytest.mark.slow
def test_a_stopped_drums_run_resumes_and_stops_early(tmp_path):
    seen = {"step": 0}
    config = drums_config(tmp_path)
    first = train(config, progress=lambda p: seen.update(step=p.info.step), should_stop=lambda: seen["step"] >= 5)
    assert first.stopped_reason == "cancelled" and first.steps == 5
    assert train(dataclasses.replace(config, resume=True)).steps == 12
    stalled = train(dataclasses.replace(config, out=str(tmp_path / "stalled.model"), lr=1e-12, steps=100,
                                        warmup_steps=0, patience=2))
    assert stalled.stopped_reason == "early stopping" and stalled.steps == 12


def drum_bars(song: Song) -> list[float]:
    """The starts of the bars of `song`'s new drum track (the last track)."""
    return sorted({n.start for n in song.tracks[-1].notes})


@pytest.mark.parametrize("ts", METERS)
def test_drums_under_a_song_have_its_bars_meter_and_tempo(drums_model, ts):
    loaded = load_model(drums_model)
    song = band_song(5, ts, drums=False, tempo=87)
    result = add_drums(loaded, song, DrumsRequest(count=3, seed=4, batch_size=2))
    bar = ts[0] * 4 / ts[1]
    for take, tokens in zip(result.songs, result.tokens):
        assert take.tracks[:-1] == song.tracks and take.tempos == song.tempos
        assert take.time_signatures == song.time_signatures and take.length == 5 * bar
        drums = take.tracks[-1]
        assert drums.is_drum and drums.notes and max(n.start for n in drums.notes) < 5 * bar
        assert tokens.count(loaded.tokenizer.index["bar"]) == 5
        decoded = loaded.tokenizer.decode(tokens)
        assert decoded.time_signatures == [(0.0, *ts)] and decoded.length == 5 * bar


def test_takes_depend_on_the_seed_not_the_batch(drums_model):
    loaded = load_model(drums_model)
    song = band_song(4, drums=False)
    a = add_drums(loaded, song, DrumsRequest(count=4, seed=9, batch_size=4))
    b = add_drums(loaded, song, DrumsRequest(count=4, seed=9, batch_size=1))
    c = add_drums(loaded, song, DrumsRequest(count=4, seed=10))
    assert a.tokens == b.tokens and a.songs == b.songs
    assert a.tokens != c.tokens and len(set(map(tuple, a.tokens))) > 1


def test_a_bar_cut_short_by_a_meter_change_gets_drums_only_inside_it():
    song = band_song(4, drums=False)
    song.time_signatures = [(0.0, 4, 4), (6.0, 3, 4)]          # the change cuts bar 2 after 2 beats
    bars = song_bars(song)
    assert bars[:3] == [(0.0, 4.0, (4, 4)), (4.0, 6.0, (4, 4)), (6.0, 9.0, (3, 4))]
    tok = DrumsTokenizer()
    every_step = tok.encode_bars([[1] * tok.config.steps_per_bar(ts) for _, _, ts in bars], [ts for _, _, ts in bars])
    kicks = [n.start for n in with_drums(tok, song, bars, every_step).tracks[-1].notes]
    assert kicks == [k / 4 for k in range(round(bars[-1][1] * 4))]    # one per step of the song, none twice


def run(capsys, *args) -> tuple[int, str]:
    capsys.readouterr()
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


def test_drums_command_writes_takes_under_the_song(drums_model, tmp_path, capsys):
    song = band_song(4, (7, 8), drums=False)
    write_midi(song, tmp_path / "song.mid")
    code, err = run(capsys, "drums", drums_model, tmp_path / "song.mid", "--count", "2", "--out", tmp_path / "out",
                    "--seed", "3", "--quiet")
    assert code == 0, err
    files = sorted((tmp_path / "out").iterdir())
    assert [f.name for f in files] == ["song-drums-01.mid", "song-drums-02.mid"]
    back = read_midi(files[0])
    assert back.time_signatures == [(0.0, 7, 8)] and back.tracks[-1].is_drum and back.tracks[-1].notes
    assert max(n.start for n in back.tracks[-1].notes) < 4 * 3.5


def test_generate_adds_drums_under_each_melody(drums_model, tiny_melody_model, tmp_path, capsys):
    code, err = run(capsys, "generate", "--model", tiny_melody_model, "--drums", drums_model, "--bars", "3",
                    "--time-signature", "3/4", "--count", "2", "--seed", "1", "--out", tmp_path / "out", "--quiet")
    assert code == 0, err
    for path in sorted((tmp_path / "out").iterdir()):
        song = read_midi(path)
        assert [t.is_drum for t in song.tracks] == [False, True]
        assert max(n.start for n in song.tracks[1].notes) < 9.0 and song.time_signatures == [(0.0, 3, 4)]


def test_the_wrong_model_gets_one_line_and_nothing_is_written(drums_model, tiny_melody_model, tmp_path, capsys):
    write_midi(band_song(2, drums=False), tmp_path / "song.mid")
    out = tmp_path / "out"
    cases = [("generate", "--model", tiny_melody_model, "--drums", tiny_melody_model, "--out", out, "--quiet"),
             ("generate", "--model", drums_model, "--out", out, "--quiet"),
             ("drums", tiny_melody_model, tmp_path / "song.mid", "--out", out, "--quiet")]
    # the messages the app shows come from the same service checks
    with pytest.raises(ComposerError) as not_drums:
        require_drums_model(load_model(tiny_melody_model))
    with pytest.raises(ComposerError) as drums_for_melody:
        prepare(load_model(drums_model), GenerateRequest())
    expected = [not_drums.value, drums_for_melody.value, not_drums.value]
    for args, message in zip(cases, expected):
        code, err = run(capsys, *args)
        lines = err.strip().splitlines()
        assert code == 2 and lines[-1].startswith("error: ") and not out.exists()
        assert lines[-1].removeprefix("error: ") == " ".join(str(message).split())
    assert "is a melody model, not a drums model" in str(not_drums.value)
    assert "--representation drums" in str(not_drums.value)
    assert "is a drums model" in str(drums_for_melody.value) and "needs a melody model" in str(drums_for_melody.value)
    code, err = run(capsys, "eval", drums_model, tmp_path, "--json", tmp_path / "eval.json")
    assert code == 2 and "is a drums model: eval measures melody and performance models" in err
    assert not (tmp_path / "eval.json").exists()


def test_a_song_without_notes_or_in_a_meter_the_grid_cannot_hold_is_refused(drums_model):
    loaded = load_model(drums_model)
    with pytest.raises(ComposerError, match="no notes: there is nothing to put drums under"):
        add_drums(loaded, Song(), DrumsRequest())
    odd = band_song(2, drums=False)
    odd.time_signatures = [(0.0, 3, 32)]
    with pytest.raises(ComposerError, match="bar 1 of the song is in time signature 3/32"):
        add_drums(loaded, odd, DrumsRequest())
    with pytest.raises(ComposerError, match="count must be in 1..1000, got 0"):
        add_drums(loaded, band_song(2), DrumsRequest(count=0))
    assert isinstance(loaded.tokenizer, DrumsTokenizer)
