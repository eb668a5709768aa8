"""A piece of N bars is N bars long in the written file, also when it ends in rests
(Song.length: set by the melody decoder, shifted when the primer is dropped, read from a
file's end-of-track, honoured by write_midi)."""
from __future__ import annotations

import io

import mido
import pretty_midi
import pytest

from composer.model.modelfile import load_model
from composer.music.midifile import read_midi, song_to_bytes
from composer.music.song import Note, Song, Track, melody_song
from composer.representations.base import BOS, EOS
from composer.representations.melody import BAR, REST, MelodyTokenizer
from composer.services.generate import GenerateRequest, generate
from tests.tinymodels import tiny_model_file


def file_seconds(data: bytes) -> tuple[float, float]:
    """The end of a MIDI file in seconds as (mido, pretty_midi) see it."""
    return mido.MidiFile(file=io.BytesIO(data)).length, pretty_midi.PrettyMIDI(io.BytesIO(data)).get_end_time()


@pytest.fixture(scope="module")
def melody_model(tmp_path_factory):
    return load_model(tiny_model_file(tmp_path_factory.mktemp("m") / "melody.model", "melody", steps=10))


def test_decoded_melody_ending_in_rests_is_written_with_all_its_bars():
    tok = MelodyTokenizer()
    tokens = [BOS, *tok.meter_tokens((3, 4)), BAR, tok.note_token(60), tok.dur_token(4), REST, tok.dur_token(8),
              BAR, REST, tok.dur_token(12), BAR, REST, tok.dur_token(12), EOS]         # 3 bars, 1 beat of music
    song = tok.decode(tokens, tempo=120.0)
    assert song.end_beat == 1.0 and song.length == 9.0 and song.length_beats == 9.0
    assert file_seconds(song_to_bytes(song)) == pytest.approx((4.5, 4.5))       # 3 bars of 3/4 at 120 bpm
    assert read_midi(song_to_bytes(song)).length == 9.0


def test_a_melody_of_rests_only_still_lasts_its_bars():
    tok = MelodyTokenizer()
    song = tok.decode([BOS, *tok.meter_tokens((4, 4))] + [BAR, REST, tok.dur_token(16)] * 4 + [EOS])
    assert song.tracks[0].notes == [] and file_seconds(song_to_bytes(song)) == pytest.approx((8.0, 8.0))


@pytest.mark.parametrize("drop", [False, True])
def test_generated_songs_are_exactly_the_bars_asked_for(melody_model, drop):
    request = GenerateRequest(count=3, bars=3, seed=4, primer="C4:1 D4:1 E4:3", keep_primer=not drop,
                              time_signature=(4, 4), tempo=120.0)
    bars = 3 if drop else 2 + 3                                  # the 5-beat primer fills 2 bars
    for song in generate(melody_model, request).songs:
        assert song.length == bars * 4.0
        assert file_seconds(song_to_bytes(song)) == pytest.approx((bars * 2.0, bars * 2.0))


def test_read_then_write_keeps_the_end_of_track():
    midi = mido.MidiFile(type=1, ticks_per_beat=96)
    midi.tracks.append(mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000),
                                       mido.MetaMessage("end_of_track", time=96 * 12)]))   # 3 bars of 4/4
    midi.tracks.append(mido.MidiTrack([mido.Message("note_on", note=60, velocity=90),
                                       mido.Message("note_off", note=60, time=96),
                                       mido.MetaMessage("end_of_track", time=5)]))
    buffer = io.BytesIO()
    midi.save(file=buffer)
    song = read_midi(buffer.getvalue())
    assert song.length == 12.0 and song.end_beat == 1.0
    again = song_to_bytes(song)
    assert file_seconds(again) == pytest.approx((6.0, 6.0))
    assert read_midi(again).length == 12.0 and song_to_bytes(read_midi(again)) == again


def test_notes_past_the_length_are_kept_and_end_the_file():
    song = Song(tracks=[Track(notes=[Note(0, 6, 60)])], length=4.0)
    assert song.length_beats == 6.0 and file_seconds(song_to_bytes(song)) == pytest.approx((3.0, 3.0))


def test_a_song_without_length_is_written_as_before():
    data = song_to_bytes(melody_song([Note(0, 1, 60)]))
    assert not [m for t in mido.MidiFile(file=io.BytesIO(data)).tracks for m in t if m.type == "text"]
    assert file_seconds(data) == pytest.approx((0.5, 0.5))


@pytest.mark.parametrize("changes, error, message", [
    ({"length": -1.0}, ValueError, "length.*-1.0"),
    ({"length": float("inf")}, ValueError, "length.*inf"),
    ({"ticks_per_beat": 0}, ValueError, "ticks_per_beat.*0"),
    ({"ticks_per_beat": 40000}, ValueError, "ticks_per_beat.*40000"),
    ({"ticks_per_beat": "96"}, TypeError, "ticks_per_beat.*'96'"),
])
def test_bad_length_or_resolution_names_the_value(changes, error, message):
    with pytest.raises(error, match=message):
        Song(**changes)


@pytest.mark.parametrize("meters, expected", [
    ([(0.0, 0, 4)], [0.0, 4.0]),                         # no bar at all: 4/4
    ([(0.0, 3, 4), (3.0, 0, 4)], [0.0, 3.0, 6.0]),       # a 0/4 change: the 3/4 goes on
    ([(0.0, 2, 4), (2.0, 4, 2 ** 20)], [0.0, 2.0, 4.0, 6.0]),    # not 262,144 bars a beat
])
def test_bar_starts_ignore_meters_without_a_bar(meters, expected):
    # a MIDI file may state 0/4 or a denominator of 2**20; counting bars in one never ended
    song = Song(tracks=[Track([Note(0.0, 7.0, 60)])], time_signatures=meters)
    assert song.bar_starts() == expected
