import io

import mido
import pretty_midi
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from composer.music.midifile import read_midi, song_to_bytes
from composer.music.song import Note, Song, Track
from composer.representations.base import BOS, PAD, Constraints, UnusableMusic
from composer.representations.melody import BAR, HOLD, REST, MelodyConfig, MelodyTokenizer
from composer.representations.melody.config import LISTED_METERS
from composer.representations.performance import PerformanceTokenizer
from composer.representations.registry import tokenizer_from_config


def folk_song_6_8() -> Song:
    """A jig-like line in 6/8 with a note tied over the bar line, rests, and
    an accompaniment track with chords below it."""
    q = 0.5  # an eighth note in beats
    melody = [Note(0, q, 67), Note(q, 2 * q, 69), Note(2 * q, 3 * q, 71), Note(3 * q, 5 * q, 72),
              Note(5 * q, 8 * q, 74),                       # crosses the bar line at 6 eighths
              Note(9 * q, 10 * q, 71), Note(10 * q, 12 * q, 67),
              Note(12 * q, 15 * q, 69), Note(15 * q, 18 * q, 66)]
    chords = [Note(b * 3.0, b * 3.0 + 3.0, p, 50) for b in range(3) for p in (48, 52, 55)]
    return Song(tracks=[Track(notes=chords, program=0, name="Piano"),
                        Track(notes=melody, program=73, name="Whistle")],
                time_signatures=[(0.0, 6, 8)], tempos=[(0.0, 100.0)])


@pytest.mark.parametrize("listed, meter", [(False, ["num:6", "den:8"]), (True, ["ts:6/8"])])
def test_melody_round_trip_through_a_real_midi_file(listed, meter):
    song = read_midi(song_to_bytes(folk_song_6_8()))
    tok = MelodyTokenizer(MelodyConfig(time_signatures=LISTED_METERS) if listed else None)
    enc = tok.encode(song)
    assert "Whistle" in enc.source and enc.n_notes == 9
    names = [tok.vocab[t] for t in enc.tokens]
    assert names[:len(meter) + 2] == ["<bos>", *meter, "bar"] and names.count("bar") == 3 and "hold" in names
    back = tok.decode(enc.tokens, tempo=100, program=73)
    assert back.tracks[0].notes == [Note(n.start, n.end, n.pitch) for n in folk_song_6_8().tracks[1].notes]
    assert back.time_signature == (6, 8)
    assert tok.count_notes(enc.tokens) == 9


def test_melody_policy_chords_keep_highest_or_lowest_and_track_override():
    chords = Track(notes=[Note(i, i + 1, p) for i in range(8) for p in (60, 64, 67)], name="Chords")
    bass = Track(notes=[Note(i, i + 1, 40 + i) for i in range(8)], name="Bass")
    song = Song(tracks=[bass, chords])
    high = MelodyTokenizer().encode(song)
    assert "Chords" in high.source and high.notes_dropped == 16
    assert {n.pitch for n in MelodyTokenizer().decode(high.tokens).tracks[0].notes} == {67}
    low = MelodyTokenizer(MelodyConfig(chords="lowest")).encode(song)
    assert {n.pitch for n in MelodyTokenizer().decode(low.tokens).tracks[0].notes} == {60}
    forced = MelodyTokenizer(MelodyConfig(track="bass")).encode(song)
    assert [n.pitch for n in MelodyTokenizer().decode(forced.tokens).tracks[0].notes] == list(range(40, 48))


def test_a_passing_note_shorter_than_the_grid_leaves_the_note_on_the_beat():
    """Sixteenths F Eb D on an eighth grid: Eb (17.75) and D (18.0) share step 36; D is on it and stays."""
    tok = MelodyTokenizer(MelodyConfig(steps_per_quarter=2))
    line = Track(notes=[Note(17.5, 17.75, 65), Note(17.75, 18.0, 63), Note(18.0, 18.5, 62), Note(18.5, 19.0, 60)])
    notes, dropped = tok.monophonic(line)
    assert [(n.start, n.pitch) for n in notes] == [(17.5, 65), (18.0, 62), (18.5, 60)] and dropped == 1
    chord = Track(notes=[Note(18.0, 18.5, 60), Note(18.0, 18.5, 64)])     # a chord still keeps its highest note
    assert [n.pitch for n in tok.monophonic(chord)[0]] == [64]


@pytest.mark.parametrize("song, reason", [
    (Song(tracks=[]), "no notes"),
    (Song(tracks=[Track(notes=[Note(i, i + 1, 36) for i in range(20)], is_drum=True)]), "drums only"),
    (Song(tracks=[Track(notes=[Note(0, 1, 60)])]), "too short"),
    (Song(tracks=[Track(notes=[Note(i, i + 1, 60) for i in range(20)])], time_signatures=[(0.0, 33, 4)]),
     "unsupported time signature 33/4: the numerator must be 1-32"),
    (Song(tracks=[Track(notes=[Note(i, i + 1, 60) for i in range(20)])], time_signatures=[(0.0, 3, 32)]),
     "unsupported time signature 3/32: a bar that does not fit the grid"),
    (Song(tracks=[Track(notes=[Note(i, i + 1, 60) for i in range(20)])], time_signatures=[(0.0, 9, 1)]),
     "unsupported time signature 9/1: a bar longer than 8 whole notes"),
])
def test_unusable_music_says_why(song, reason):
    with pytest.raises(UnusableMusic, match=reason):
        MelodyTokenizer().encode(song)


def test_a_listed_meter_vocabulary_refuses_other_meters():
    song = Song(tracks=[Track(notes=[Note(i, i + 1, 60) for i in range(20)])], time_signatures=[(0.0, 7, 16)])
    MelodyTokenizer().encode(song)
    with pytest.raises(UnusableMusic, match="^unsupported time signature 7/16$"):
        MelodyTokenizer(MelodyConfig(time_signatures=LISTED_METERS)).encode(song)


def test_performance_round_trip_is_lossless_on_the_quantized_grid():
    song = Song(tracks=[Track(notes=[Note(0, 1, 60, 100), Note(0, 2, 64, 50), Note(0.5, 0.75, 67, 127),
                                     Note(1, 1.5, 60, 70), Note(3, 9, 72, 20)] * 1, program=0),
                        Track(notes=[Note(0, 0.5, 36, 100)], is_drum=True)],
                tempos=[(0.0, 90.0)])
    tok = PerformanceTokenizer()
    tokens = tok.encode_quantized(tok.quantize(song))
    assert tok.decode_quantized(tokens) == tok.quantize(song)
    back = tok.decode(tokens, tempo=90)
    half_step_beats = 0.005 * 90 / 60      # times are kept to the nearest 10 ms
    for got, want in zip(back.tracks[0].notes, sorted(song.tracks[0].notes), strict=True):
        assert got.pitch == want.pitch
        assert got.start == pytest.approx(want.start, abs=half_step_beats)
        assert got.end == pytest.approx(want.end, abs=half_step_beats)
        assert abs(got.velocity - want.velocity) <= 127 // 32 // 2 + 1
    assert all(n.pitch != 36 for n in back.tracks[0].notes)  # drums are not part of a piano performance


def test_tokenizers_rebuild_from_their_stored_config():
    for tok in (MelodyTokenizer(MelodyConfig(steps_per_quarter=12)), PerformanceTokenizer()):
        again = tokenizer_from_config(tok.kind, tok.config.to_dict())
        assert again.vocab == tok.vocab and again.config == tok.config


@pytest.mark.parametrize("listed", [False, True])
def test_melody_positions_match_what_the_sampling_grammar_tracks(listed):
    tok = MelodyTokenizer(MelodyConfig(time_signatures=LISTED_METERS) if listed else None)
    tokens = tok.encode(read_midi(song_to_bytes(folk_song_6_8()))).tokens[:-1]
    grammar = tok.grammar(1, Constraints(bars=50), "cpu")
    tracked = []
    for t in tokens:
        grammar.update(torch.tensor([t]))
        tracked.append(int(grammar.positions()[0]))
    assert tracked == tok.positions(tokens)


def _check_valid_midi(song: Song):
    data = song_to_bytes(song)
    midi = mido.MidiFile(file=io.BytesIO(data))
    assert midi.length >= 0
    pm = pretty_midi.PrettyMIDI(io.BytesIO(data))
    for note in pm.instruments[0].notes if pm.instruments else []:
        assert note.end > note.start and 0 <= note.pitch <= 127


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=MelodyTokenizer().vocab_size - 1), max_size=200))
def test_any_melody_token_sequence_decodes_to_a_valid_midi_file(tokens):
    _check_valid_midi(MelodyTokenizer().decode(tokens))


_MEL = MelodyTokenizer()
_LISTED = MelodyTokenizer(MelodyConfig(time_signatures=LISTED_METERS))
assert (_MEL.note_base, _MEL.dur_base) == (_LISTED.note_base + 29, _LISTED.dur_base + 29)
# tokens that make the decoder's cases common: notes, rests, holds, bar lines,
# short durations, meters and meter changes (3/4, 4/4, 7/8 of the any-meter vocabulary, 2/4 and
# 6/8 of the listed), <pad>/<bos>; any token (<eos> too) now and then. Drawn as ids of the
# any-meter vocabulary; the listed one takes them 29 lower from note:P on.
_MELODY_TOKENS = st.one_of(
    st.sampled_from([BAR, REST, HOLD, HOLD, _MEL.note_base + 24, _MEL.note_base + 31, _MEL.ts_base + 2,
                     _MEL.ts_base + 3, _MEL.ts_base + 6, _MEL.den_base + 2, _MEL.den_base + 3, _LISTED.ts_base,
                     _LISTED.ts_base + 3, PAD, BOS]),
    st.integers(min_value=_MEL.dur_base, max_value=_MEL.dur_base + 7),
    st.integers(min_value=0, max_value=_MEL.vocab_size - 1))


@settings(max_examples=300, deadline=None)
@given(st.lists(_MELODY_TOKENS, max_size=160), st.lists(st.integers(min_value=1, max_value=9), max_size=40),
       st.booleans())
def test_the_incremental_melody_decoder_equals_decoding_from_scratch(tokens, chunks, listed):
    """Fed in any pieces and looked at after each, the live-preview decoder
    gives what decoding all the tokens so far gives."""
    tok = _LISTED if listed else _MEL
    if listed:
        tokens = [t - 29 if t >= _MEL.note_base else t for t in tokens if t < _LISTED.vocab_size + 29]
    decoder, fed = tok.decoder(tempo=97, program=12), 0
    for size in chunks + [len(tokens)]:
        decoder.feed(tokens[fed:fed + size])
        fed = min(fed + size, len(tokens))
        expected = tok.decode(tokens[:fed], tempo=97, program=12)
        assert decoder.song() == expected
        assert decoder.result() == tok.decode_notes(tokens[:fed])
    assert song_to_bytes(decoder.song()) == song_to_bytes(tok.decode(tokens, tempo=97, program=12))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=PerformanceTokenizer().vocab_size - 1), max_size=300))
def test_any_performance_token_sequence_decodes_to_a_valid_midi_file(tokens):
    _check_valid_midi(PerformanceTokenizer().decode(tokens))
