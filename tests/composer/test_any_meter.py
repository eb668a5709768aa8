"""Any meter (issue 18): files in 6/4, 3/2, 7/8, 5/8, 11/8, 7/4 and with a
meter change are ingested, round-trip, train a model that generates them with
exact bars; model files with the nine listed meters sample what they did."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import subprocess
import sys

import mido
import pretty_midi
import pytest

from composer.analysis.form import piece_bars
from composer.assets import assets_dir
from composer.corpus.ingest import scan_folder
from composer.errors import ComposerError
from composer.model.lookback import LookbackTracker
from composer.model.modelfile import load_model
from composer.music.midifile import read_midi
from composer.music.song import Note, Song, Track
from composer.representations.melody import BAR, MelodyConfig, MelodyTokenizer
from composer.representations.melody.config import LISTED_METERS
from composer.services.form_plan import FormSpec, beat_steps
from composer.services.generate import GenerateRequest, generate

# (file, [(numerator, denominator, bars), ...]): one meter, or a change after 4 bars
PIECES = {"slow_jig_6_4.mid": [(6, 4, 4)], "hornpipe_3_2.mid": [(3, 2, 4)], "balkan_7_8.mid": [(7, 8, 6)],
          "five_8.mid": [(5, 8, 6)], "eleven_8.mid": [(11, 8, 4)], "seven_4.mid": [(7, 4, 4)],
          "change_4_4_3_4.mid": [(4, 4, 4), (3, 4, 4)]}


def meter_file(path, meters, seed: int) -> list[Note]:
    """A flute line of eighth notes (every fifth a quarter, tied over the bar line when
    it ends a bar), written with pretty_midi at 120 bpm; returns its notes in beats."""
    rng = random.Random(seed)
    pm = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    flute = pretty_midi.Instrument(program=73, name="Flute")
    notes, beat = [], 0.0
    for num, den, bars in meters:
        pm.time_signature_changes.append(pretty_midi.TimeSignature(num, den, beat * 0.5))
        end = beat + bars * num * 4 / den
        while beat < end - 1e-9:
            length = 1.0 if len(notes) % 5 == 4 else 0.5
            notes.append(Note(beat, beat + length, rng.randrange(60, 80)))
            beat += length
    for n in notes:
        flute.notes.append(pretty_midi.Note(velocity=80, pitch=n.pitch, start=n.start * 0.5, end=n.end * 0.5))
    pm.instruments.append(flute)
    path.parent.mkdir(parents=True, exist_ok=True)
    pm.write(str(path))
    return notes


@pytest.fixture(scope="module")
def meter_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("meters") / "tunes"
    notes = {name: meter_file(folder / name, meters, seed) for seed, (name, meters) in enumerate(PIECES.items())}
    return folder, notes


def bars_of(meters) -> int:
    return sum(bars for _, _, bars in meters)


def test_every_meter_is_ingested_and_round_trips(meter_folder, tmp_path):
    folder, written = meter_folder
    tok = MelodyTokenizer()
    corpus = scan_folder(folder, tok, workers=1, cache_dir=tmp_path / "cache")
    assert {f.path: f.status for f in corpus.report.files} == {name: "used" for name in PIECES}
    for name, meters in PIECES.items():
        tokens = corpus.sequences[name]
        assert tokens.count(BAR) == bars_of(meters)
        song = tok.decode(tokens)
        assert [(n.start, n.end, n.pitch) for n in song.tracks[0].notes] == \
               [(n.start, n.end, n.pitch) for n in written[name]]
        starts = [0.0, 16.0] if len(meters) > 1 else [0.0]
        assert song.time_signatures == [(s, num, den) for s, (num, den, _) in zip(starts, meters)]
        assert song.length == sum(bars * num * 4 / den for num, den, bars in meters)
        assert read_midi(folder / name).time_signatures == song.time_signatures


def test_a_listed_meter_model_still_skips_or_cuts_them(meter_folder, tmp_path):
    folder, _ = meter_folder
    tok = MelodyTokenizer(MelodyConfig(time_signatures=LISTED_METERS))
    report = scan_folder(folder, tok, workers=1, cache_dir=tmp_path / "cache").report
    reasons = {f.path: f.reason for f in report.files}
    assert reasons["slow_jig_6_4.mid"] == "unsupported time signature 6/4"
    assert reasons["change_4_4_3_4.mid"] == ""
    encoded = tok.encode(read_midi(folder / "change_4_4_3_4.mid"))
    assert encoded.tokens.count(BAR) == 4 and encoded.info["cut_at_meter_change"] == 16.0


def test_a_meter_change_is_followed_by_positions_lookback_and_form_bars(meter_folder):
    folder, _ = meter_folder
    tok = MelodyTokenizer()
    song = read_midi(folder / "change_4_4_3_4.mid")
    tokens = tok.encode(song).tokens
    names = [tok.vocab[t] for t in tokens]
    change = names.index("num:3")
    assert names[change:change + 3] == ["num:3", "den:4", "bar"] and names.count("num:3") == 1
    tracker, bar_lengths = LookbackTracker(tok, (1, 2)), []
    for t in tokens:
        tracker.feed(t)
        if t == BAR:
            bar_lengths.append(tracker.spb)
    assert bar_lengths == [16] * 4 + [12] * 4
    positions = tok.positions(tokens)
    assert max(positions[change:]) == 10             # the last eighth of a 3/4 bar starts at step 10
    # 4 of 4/4 and 4 of 3/4 (28 beats: 7 bars of 4/4); to the last note (pretty_midi ends the file a tick later)
    assert piece_bars(dataclasses.replace(song, length=None)) == 8


@pytest.mark.parametrize("meter, steps", [((6, 8), 6), ((6, 4), 12), ((3, 2), 8), ((7, 8), 2), ((12, 16), 3)])
def test_the_beat_of_compound_and_other_meters(meter, steps):
    assert beat_steps(meter, 4) == steps


@pytest.fixture(scope="module")
def meter_model(meter_folder, tmp_path_factory):
    from training.trainer import TrainConfig, train
    folder, _ = meter_folder
    out = tmp_path_factory.mktemp("model")
    config = TrainConfig(folder=str(folder), out=str(out / "meters.model"), layers=1, hidden=24, embed=12,
                         steps=12, batch=4, seq_len=24, warmup_steps=3, eval_every=4, checkpoint_every=4,
                         log_every=2, cache_dir=str(out / "cache"), workers=1, val_share=0.2)
    result = train(config)
    assert len(result.report.used()) == len(PIECES)       # trained on every meter, none skipped
    return result.model_path


@pytest.mark.parametrize("meter", [(7, 8), (6, 4), (3, 2), (5, 8), (11, 8), (7, 4), (13, 16)])
def test_a_new_model_generates_any_meter_with_exact_bars(meter_model, meter):
    loaded = load_model(meter_model)
    result = generate(loaded, GenerateRequest(bars=5, count=3, seed=2, time_signature=meter, form="free"))
    bar_beats = meter[0] * 4 / meter[1]
    for tokens, song in zip(result.tokens, result.songs):
        assert tokens.count(BAR) == 5
        assert song.time_signatures == [(0.0, *meter)] and song.length == pytest.approx(5 * bar_beats)
        assert all(n.start < 5 * bar_beats for n in song.tracks[0].notes)


def test_a_form_in_seven_eight_repeats_whole_bars(meter_model):
    loaded = load_model(meter_model)
    result = generate(loaded, GenerateRequest(count=2, seed=4, time_signature=(7, 8), form="AABB",
                                              phrase_bars=2, key="D"))
    spec = FormSpec("AABB", 2)
    for tokens in result.tokens:
        bars = " ".join(map(str, tokens)).split(f" {BAR} ")[1:]
        assert len(bars) == spec.bars
        assert bars[2:4] == bars[0:2]


def cli(*args):
    return subprocess.run([sys.executable, "-m", "composer", *map(str, args)], capture_output=True, text=True)


@pytest.mark.slow
def test_generate_time_signature_7_8_writes_7_8_bars(meter_model, tmp_path):
    result = cli("generate", "--model", meter_model, "--time-signature", "7/8", "--bars", 4, "--count", 2,
                 "--seed", 5, "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    for path in sorted(tmp_path.glob("*.mid")):
        meters = [(m.numerator, m.denominator) for t in mido.MidiFile(path).tracks for m in t
                  if m.type == "time_signature"]
        assert meters == [(7, 8)]
        song = read_midi(path)
        assert song.length == pytest.approx(4 * 3.5) and song.end_beat <= 4 * 3.5 + 1e-9


def test_meters_no_midi_file_can_state_are_refused_before_any_model_is_read():
    for meter, reason in (((7, 3), "denominator one of 1, 2, 4, 8, 16, 32"), ((33, 8), "numerator must be 1-32"),
                          ((9, 1), "longer than 8 whole notes")):
        with pytest.raises(ComposerError, match=reason):
            GenerateRequest(time_signature=meter).validate()


# What main (before any meter) sampled with the shipped model, computed on main at a910f43 and 7ba2695
# (its lookback+copy model) with these requests: sha256 of the JSON of the token lists, first 16 hex digits.
SHIPPED_HASHES = {"free": "3f12734fa237f3e5", "3/4": "80ea4a9afcc5b183", "form": "aae49570d6751f10"}


@pytest.mark.slow
def test_the_shipped_listed_meter_model_samples_what_it_did():
    loaded = load_model(assets_dir() / "melody.model")
    assert loaded.tokenizer.config.time_signatures == LISTED_METERS
    requests = {"free": {}, "3/4": {"time_signature": (3, 4)},
                "form": {"form": "AABB", "key": "G", "time_signature": (6, 8)}}
    for name, fields in requests.items():
        tokens = generate(loaded, GenerateRequest(bars=8, count=2, seed=1234, **fields)).tokens
        assert hashlib.sha256(json.dumps(tokens).encode()).hexdigest()[:16] == SHIPPED_HASHES[name], name


def test_a_listed_meter_model_names_its_meters_when_asked_for_another(tmp_path):
    result = cli("generate", "--model", assets_dir() / "melody.model", "--time-signature", "7/8", "--out", tmp_path)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.strip() == ("error: time signature 7/8 is not one this model knows "
                                     "(2/4, 3/4, 4/4, 6/8, 9/8, 12/8, 2/2, 3/8, 5/4)")


def test_an_old_model_files_config_rebuilds_its_listed_vocabulary():
    stored = dataclasses.asdict(MelodyConfig(time_signatures=LISTED_METERS))
    del stored["longest_quarters"]                          # made before the field existed
    stored["time_signatures"] = [list(ts) for ts in LISTED_METERS]      # as JSON gives them
    tok = MelodyTokenizer(MelodyConfig.from_dict(stored))
    assert tok.vocab[6:15] == [f"ts:{n}/{d}" for n, d in LISTED_METERS] and tok.vocab_size == 100
    assert MelodyTokenizer().vocab_size == 137       # 32 numerators + 6 denominators, durations to 2 whole notes


def test_a_long_bar_writes_notes_longer_than_the_longest_duration_as_holds():
    tok = MelodyTokenizer()
    song = Song(tracks=[Track(notes=[Note(0, 12, 60)] + [Note(12 + i, 13 + i, 62) for i in range(8)])],
                time_signatures=[(0.0, 10, 4)])
    tokens = tok.encode(song).tokens
    names = [tok.vocab[t] for t in tokens]
    assert names[:7] == ["<bos>", "num:10", "den:4", "bar", "note:60", "dur:32", "hold"]
    assert tok.decode(tokens).tracks[0].notes[0] == Note(0, 12, 60)


def test_notes_per_bar_follow_a_meter_change():
    from composer.analysis.stats import bar_stats
    song = Song(tracks=[Track(notes=[Note(b, b + 1, 60) for b in range(10)])],
                time_signatures=[(0.0, 4, 4), (4.0, 3, 4)])
    assert bar_stats(song) == ([4, 3, 3], 0)


def test_a_primer_in_seven_eight_is_continued_in_seven_eight(meter_model):
    primer = Song(tracks=[Track(notes=[Note(i * 0.5, i * 0.5 + 0.5, 62 + i % 5) for i in range(7)])],
                  time_signatures=[(0.0, 7, 8)])
    result = generate(load_model(meter_model), GenerateRequest(primer=primer, bars=2, count=2, seed=1, form="free"))
    for tokens, song in zip(result.tokens, result.songs):
        assert tokens.count(BAR) == 3 and song.time_signatures == [(0.0, 7, 8)]     # the primer's bar + 2
        assert song.length == pytest.approx(3 * 3.5)
