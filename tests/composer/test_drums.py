"""The drums representation: General MIDI reduction, grid, bars and meters,
round trips, positions, lenient decoding, the grammar and ingestion."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from drumsongs import CLOSED_HAT, KICK, SNARE, band_song, drum_notes

from benchmarks.midi_factory import write_song
from composer.corpus.ingest import reason_kind, scan_folder
from composer.model.modelfile import model_bytes
from composer.model.network import ModelConfig, MusicRNN
from composer.music.midifile import read_midi, song_to_bytes
from composer.music.song import Note, Song, Track
from composer.representations.base import BOS, EOS, Constraints, UnusableMusic
from composer.representations.drum_grammar import DrumGrammar
from composer.representations.drums import DRUM_CLASSES, DrumsConfig, DrumsTokenizer, accent
from composer.representations.registry import tokenizer_from_config

METERS = [(4, 4), (3, 4), (6, 8), (7, 8)]


def classes_at(song: Song) -> dict[float, set[int]]:
    """{beat: General MIDI drum notes struck there} of the song's drum tracks."""
    out: dict[float, set[int]] = {}
    for track in song.tracks:
        if track.is_drum:
            for n in track.notes:
                out.setdefault(n.start, set()).add(n.pitch)
    return out


@pytest.mark.parametrize("ts", METERS)
def test_round_trip_keeps_every_hit_and_the_meter(ts):
    tok = DrumsTokenizer()
    song = band_song(3, ts)
    encoded = tok.encode(song)
    assert encoded.n_notes == len(song.tracks[1].notes) and encoded.notes_dropped == 0
    decoded = tok.decode(encoded.tokens, tempo=90)
    assert decoded.tracks[0].is_drum and decoded.time_signatures == [(0.0, *ts)] and decoded.tempo == 90
    assert decoded.length == 3 * ts[0] * 4 / ts[1]
    assert classes_at(decoded) == classes_at(song)          # KICK, SNARE, hats are their classes' first notes
    assert tok.encode(decoded).tokens == encoded.tokens
    steps_per_bar = ts[0] * 16 // ts[1]
    assert len(encoded.tokens) == 1 + 2 + 3 * (1 + steps_per_bar) + 1


def test_general_midi_notes_become_their_class():
    tok = DrumsTokenizer(DrumsConfig(min_hits=1))
    notes = [Note(0, 0.25, 35), Note(1, 1.25, 40), Note(2, 2.25, 44), Note(3, 3.25, 57), Note(3, 3.25, 20)]
    encoded = tok.encode(Song(tracks=[Track(notes=notes, is_drum=True)]))
    assert encoded.notes_dropped == 1                               # 20 is no General MIDI drum
    assert classes_at(tok.decode(encoded.tokens)) == {0.0: {KICK}, 1.0: {SNARE}, 2.0: {CLOSED_HAT}, 3.0: {49}}
    assert [name for name, _ in DRUM_CLASSES] == ["kick", "snare", "closed hat", "open hat", "low tom", "mid tom",
                                                  "high tom", "crash", "ride"]


def test_meter_changes_on_bar_lines_are_kept_and_one_off_them_cuts():
    tok = DrumsTokenizer()
    notes = drum_notes(2, (4, 4)) + drum_notes(2, (3, 4), start=8.0)
    song = Song(tracks=[Track(notes=notes, is_drum=True)], time_signatures=[(0.0, 4, 4), (8.0, 3, 4)])
    decoded = tok.decode(tok.encode(song).tokens)
    assert decoded.time_signatures == [(0.0, 4, 4), (8.0, 3, 4)] and decoded.length == 14.0
    assert classes_at(decoded) == classes_at(song)
    off_the_line = Song(tracks=[Track(notes=notes, is_drum=True)], time_signatures=[(0.0, 4, 4), (6.0, 3, 4)])
    assert tok.decode(tok.encode(off_the_line).tokens).length == 4.0   # cut at the bar line before beat 6


def test_silent_bars_before_the_first_hit_are_left_out():
    tok = DrumsTokenizer()
    song = Song(tracks=[Track(notes=drum_notes(2, start=8.0), is_drum=True)])
    decoded = tok.decode(tok.encode(song).tokens)
    assert min(classes_at(decoded)) == 0.0 and decoded.length == 8.0


def test_files_without_drums_or_with_too_little_are_unusable():
    tok = DrumsTokenizer()
    with pytest.raises(UnusableMusic, match="^no drum track$"):
        tok.encode(band_song(drums=False))
    with pytest.raises(UnusableMusic, match=r"too short \(2 drum hits, need 8\)"):
        tok.encode(Song(tracks=[Track(notes=[Note(0, 1, KICK), Note(1, 2, SNARE)], is_drum=True)]))
    with pytest.raises(UnusableMusic, match="unsupported time signature 3/32"):
        tok.encode(Song(tracks=[Track(notes=drum_notes(2), is_drum=True)], time_signatures=[(0.0, 3, 32)]))


def test_ingestion_skips_a_file_without_drums_with_its_reason(tmp_path):
    write_song(band_song(4, seed=1), tmp_path / "midi" / "band.mid")
    write_song(band_song(4, drums=False), tmp_path / "midi" / "tune.mid")
    corpus = scan_folder(tmp_path / "midi", DrumsTokenizer(), cache_dir=tmp_path / "cache", workers=1)
    by_name = {f.path: f for f in corpus.report.files}
    assert by_name["band.mid"].status == "used" and by_name["band.mid"].source == "1 drum track(s) merged"
    assert by_name["tune.mid"].status == "skipped" and by_name["tune.mid"].reason == "no drum track"
    assert reason_kind("no drum track") == "no drum track"
    assert list(corpus.sequences) == ["band.mid"]


def test_decoded_drums_are_written_on_channel_ten_with_accents(tmp_path):
    tok = DrumsTokenizer()
    song = tok.decode(tok.encode(band_song(2, (6, 8))).tokens)
    back = read_midi(song_to_bytes(song))
    assert back.tracks[0].is_drum                                    # read from channel 10
    velocities = {n.start: n.velocity for n in back.tracks[0].notes}     # (a step's hits share one)
    assert velocities[0.0] == 112 and velocities[1.5] == 96 and velocities[0.5] == 64   # 6/8: two dotted beats
    assert accent(4, (4, 4), 4) == 96 and accent(2, (4, 4), 4) == 80 and accent(1, (4, 4), 4) == 64
    assert accent(2, (7, 8), 4) == 96                                # 7/8: every eighth is a beat


def test_decoding_any_tokens_gives_a_song():
    tok = DrumsTokenizer()
    rng = np.random.default_rng(0)
    for _ in range(20):
        tokens = rng.integers(0, tok.vocab_size, size=60).tolist()
        song = tok.decode(tokens)
        assert song.length is not None and all(t.is_drum for t in song.tracks)
    # a step past its bar's end is dropped, a bar cut short is filled with silence
    bar, hit = tok.index["bar"], tok.step_token(1)
    song = tok.decode([BOS, bar, *[hit] * 20, bar, hit, EOS])
    assert song.length == 8.0 and len(song.tracks[0].notes) == 17


@pytest.mark.parametrize("ts", METERS)
def test_grammar_writes_exact_bars_and_the_positions_the_tokenizer_gives(ts):
    tok = DrumsTokenizer()
    grammar = tok.grammar(3, Constraints(bars=5, time_signature=ts), "cpu")
    rng = np.random.default_rng(1)
    rows, positions = [[] for _ in range(3)], [[] for _ in range(3)]
    for _ in range(grammar.max_steps()):
        mask = grammar.mask().numpy()
        pick = torch.tensor([rng.choice(np.flatnonzero(m)) for m in mask])
        grammar.update(pick)
        for r in range(3):
            if not rows[r] or rows[r][-1] != EOS:
                rows[r].append(int(pick[r]))
                positions[r].append(int(grammar.positions()[r]))
    assert grammar.done.all()
    for tokens, pos in zip(rows, positions):
        assert tokens[-1] == EOS and pos == tok.positions(tokens)
        song = tok.decode(tokens)
        assert song.time_signatures == [(0.0, *ts)] and song.length == 5 * ts[0] * 4 / ts[1]
        assert tokens.count(tok.index["bar"]) == 5


def test_grammar_follows_a_plan_of_meters_and_allowed_steps():
    tok = DrumsTokenizer()
    no_crash = np.array([not m >> 7 & 1 for m in range(512)])
    grammar = DrumGrammar(tok, 1, [(4, 4), (4, 4), (7, 8)], "cpu", allowed_steps=no_crash)
    tokens = []
    while not grammar.done.all():
        allowed = np.flatnonzero(grammar.mask().numpy()[0])
        tokens.append(int(allowed[-1]))
        grammar.update(torch.tensor(tokens[-1:]))
    song = tok.decode(tokens)
    assert song.time_signatures == [(0.0, 4, 4), (8.0, 7, 8)] and song.length == 11.5
    assert 49 not in {n.pitch for n in song.tracks[0].notes} and song.tracks[0].notes
    with pytest.raises(ValueError, match="3/32"):
        DrumGrammar(tok, 1, [(3, 32)], "cpu")


def test_a_drums_model_file_round_trips_its_representation():
    tok = DrumsTokenizer(DrumsConfig(steps_per_quarter=12))
    model = MusicRNN(ModelConfig(vocab_size=tok.vocab_size, hidden_size=8, embed_dim=4, num_layers=1,
                                 position_classes=tok.position_classes))
    assert model_bytes(model, tok)            # the metadata rules accept the drums representation
    again = tokenizer_from_config("drums", tok.config.to_dict())
    assert again.vocab == tok.vocab and again.config.steps_per_quarter == 12
    triplets = band_song(2)
    triplets.tracks[1].notes.append(Note(1 / 3, 0.5, KICK))
    assert 1 / 3 in classes_at(again.decode(again.encode(triplets).tokens))
