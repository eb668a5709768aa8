"""Damaged MIDI files (issue 21): read up to the damage, resynchronised on the
next track, hanging notes closed, and the damage said in words, not in the
names of Python exceptions. Every file is built here, damaged in one way."""
from __future__ import annotations

import io
import re
import struct

import mido
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.midi_factory import good_bytes, melody, note_events, smf, tempo_event, track_chunk, varlen, write_song
from composer.corpus.ingest import scan_folder
from composer.errors import MidiReadError
from composer.music.midifast import read_midi_fast
from composer.music.midifile import ReadLimits, read_midi, song_to_bytes
from composer.music.midisalvage import salvage
from composer.representations.melody import MelodyTokenizer

STRICT = ReadLimits(salvage=False)
# what must never reach a user: exception names and their stock texts
PYTHON_WORDS = re.compile(r"[A-Za-z]*Error\b|list index|wrong number of bytes|index out of range|unpack")

CONDUCTOR = track_chunk(tempo_event(500_000))
LEAD = note_events(24, channel=0, first_pitch=72)       # 24 notes of 9 bytes each
BASS = note_events(24, channel=1, first_pitch=48)


def three_tracks(lead: bytes = LEAD, bass: bytes = BASS, **lead_chunk) -> bytes:
    return smf(CONDUCTOR, track_chunk(lead, **lead_chunk), track_chunk(bass))


def counts(song) -> list[int]:
    return [len(t.notes) for t in song.tracks]


def read_both(data: bytes):
    """(the salvaged song, the strict error's message)."""
    song = read_midi(data)
    with pytest.raises(MidiReadError) as refused:
        read_midi(data, STRICT)
    message = str(refused.value)
    assert message.startswith("<bytes>: corrupt: ") and not PYTHON_WORDS.search(message), message
    assert song.damage.startswith(message.removeprefix("<bytes>: corrupt: ")), (song.damage, message)
    return song, message


def test_an_intact_file_has_no_damage():
    song = read_midi(three_tracks())
    assert counts(song) == [24, 24] and song.damage == ""
    assert counts(read_midi(three_tracks(), STRICT)) == [24, 24]


@pytest.mark.parametrize("notes_kept", [0, 1, 7, 23])
def test_a_truncated_file_keeps_the_notes_before_the_cut(notes_kept):
    data = three_tracks()
    bass_start = len(data) - len(track_chunk(BASS)) + 8
    cut = bass_start + 9 * notes_kept + 7          # inside the next note's note-off
    song, _ = read_both(data[:cut])
    intact = read_midi(data)
    assert song.tracks[0].notes == intact.tracks[0].notes
    assert counts(song) == ([24, notes_kept] if notes_kept else [24])
    assert [t.notes for t in song.tracks[1:]] == ([intact.tracks[1].notes[:notes_kept]] if notes_kept else [])
    assert song.damage == f"truncated at byte {cut} (a note-off message of track 3 is cut off): kept " \
                          f"{24 + notes_kept} notes"


def test_a_note_left_hanging_by_the_cut_ends_with_the_track():
    held = b"\x00\x90\x30\x50" + note_events(8, channel=0, first_pitch=72) + b"\x00\x80\x30\x00"
    data = smf(track_chunk(held))
    song, _ = read_both(data[:len(data) - 8])       # the held note's note-off and end-of-track lost
    notes = sorted(song.tracks[0].notes, key=lambda n: n.pitch)
    assert len(notes) == 9 and (notes[0].pitch, notes[0].start, notes[0].end) == (0x30, 0.0, 4.0)


@pytest.mark.parametrize("change, words", [(+100, "track 2's length is wrong (says"),
                                           (-20, "track 2's length is wrong (says"),
                                           (0xFFFF_FFFF, "track 2's length is wrong (says 4,294,967,295 bytes")])
def test_a_wrong_track_length_ends_the_track_where_its_events_end(change, words):
    length = len(LEAD) + 4 + change if change < 0xFFFF_FFFF else change
    song, message = read_both(three_tracks(declared_length=length))
    assert counts(song) == [24, 24] and words in message


def test_a_missing_end_of_track_with_the_length_unchanged_loses_nothing():
    middle = three_tracks(end=False, declared_length=len(LEAD) + 4)   # the 4 bytes of end-of-track are gone
    song, message = read_both(middle)
    assert counts(song) == [24, 24] and "track 2's length is wrong" in message
    last = smf(CONDUCTOR, track_chunk(LEAD), track_chunk(BASS, end=False, declared_length=len(BASS) + 4))
    song, message = read_both(last)
    assert counts(song) == [24, 24] and "truncated at byte" in message


@pytest.mark.parametrize("stray, words, bass_kept", [
    (b"\x00\x3c\x40", "a data byte (0x3C) where an event should start", 0),        # nothing to run on
    (b"\x00\xf4", "an undefined status byte 0xF4", 5),
    (b"\x00\xf8\x00\x3c\x40", "a data byte (0x3C) after a system message", 5),      # mido: 'wrong number of bytes'
    (b"\x00\xf0" + varlen(500) + b"\x01\x02", "a sysex message runs past the end of track 2", 5),
    (b"\x00\xff\x58\x02\x03\x02",                                                     # mido: IndexError
     "a time signature event at byte 86 of track 2 is unreadable (2 bytes is too short)", 5),
    (b"\x00\xff\x01" + varlen(2_000_000), "claims 2,000,000 bytes (limit 1,000,000)", 5),
])
def test_a_stray_byte_keeps_the_track_up_to_it_and_the_tracks_after_it(stray, words, bass_kept):
    bass = BASS[:9 * 5] + stray + BASS[9 * 5:] if bass_kept else stray + BASS
    data = smf(CONDUCTOR, track_chunk(bass), track_chunk(LEAD))
    song, message = read_both(data)
    assert words in message
    assert counts(song) == ([bass_kept, 24] if bass_kept else [24])


def test_events_that_spell_mtrk_inside_a_track_of_the_right_length_are_events():
    # delta 0x4D 'M', running-status note 'T' 'r', delta 0x6B 'k', note-off: what mido and the fast reader read
    events = b"\x00\x90\x3c\x40" + b"\x4d\x54\x72" + b"\x6b\x80\x54\x00" + note_events(8)
    data = smf(track_chunk(events))
    assert b"MTrk" in data[22:]
    song = read_midi(data)
    assert song.damage == "" and counts(song) == [10]
    assert read_midi_fast(data).tracks[0].notes == song.tracks[0].notes


def test_junk_between_tracks_is_skipped_to_the_next_track():
    song, message = read_both(smf(CONDUCTOR, track_chunk(LEAD), b"\x00" * 10, track_chunk(BASS)))
    assert counts(song) == [24, 24] and "skipped 10 bytes that are not a track at byte" in message


def test_a_file_with_nothing_readable_is_corrupt_in_words():
    for data in (smf(track_chunk(b"\x00\x3c\x40" + LEAD)), smf(track_chunk(LEAD))[:30]):
        with pytest.raises(MidiReadError, match="corrupt: ") as refused:
            read_midi(data)
        assert not PYTHON_WORDS.search(str(refused.value))


def test_caps_still_hold_for_the_part_kept():
    many = smf(track_chunk(note_events(40)), track_chunk(note_events(40)))[:-10]
    with pytest.raises(MidiReadError, match="too many events"):
        read_midi(many, ReadLimits(max_events=100))
    tracks = smf(*[track_chunk(note_events(2)) for _ in range(5)])[:-3]
    with pytest.raises(MidiReadError, match="too many tracks"):
        read_midi(tracks, ReadLimits(max_tracks=3))


# ---------------------------------------------------------------- a folder of them

def damaged_files() -> dict[str, bytes]:
    whole = three_tracks()
    return {
        "truncated_early.mid": whole[:len(whole) - 150],
        "truncated_late.mid": whole[:len(whole) - 20],
        "long_length.mid": three_tracks(declared_length=len(LEAD) + 200),
        "short_length.mid": three_tracks(declared_length=len(LEAD) - 30),
        "no_end_of_track.mid": three_tracks(end=False, declared_length=len(LEAD) + 4),
        "running_status.mid": smf(CONDUCTOR, track_chunk(LEAD[:90] + b"\x00\xf8\x00\x3c\x40" + LEAD[90:])),
        "stray_status.mid": smf(CONDUCTOR, track_chunk(LEAD[:45] + b"\x00\xfd" + LEAD[45:]), track_chunk(BASS)),
    }


@pytest.mark.parametrize("strict", [False, True])
def test_a_scan_uses_damaged_files_and_says_what_it_kept(tmp_path, strict):
    folder = tmp_path / "music"
    folder.mkdir()
    for name, data in damaged_files().items():
        (folder / name).write_bytes(data)
    write_song(melody(24), folder / "intact.mid")
    limits = STRICT if strict else ReadLimits()
    report = scan_folder(folder, MelodyTokenizer(), cache_dir=tmp_path / "cache", workers=1, limits=limits).report
    files = {f.path: f for f in report.files}
    assert files["intact.mid"].status == "used" and files["intact.mid"].damage == ""
    for name in damaged_files():
        got = files[name]
        if strict:
            assert got.status == "skipped" and got.reason.startswith("corrupt: "), got
            assert not PYTHON_WORDS.search(got.reason), got
        else:
            assert got.status == "used" and re.search(r": kept \d+ notes$", got.damage), got
            assert f"  {name}: {got.damage}" in report.summary_lines()
    if not strict:
        assert f"{len(damaged_files())} damaged file(s) used up to the damage:" in report.summary_lines()


# ---------------------------------------------------------------- any damage

def damaged(draw, data: bytes) -> bytes:
    data = bytearray(data)
    for _ in range(draw.draw(st.integers(0, 4))):
        kind = draw.draw(st.sampled_from(["flip", "insert", "delete", "length", "duplicate"]))
        at = draw.draw(st.integers(14, len(data) - 1))
        if kind == "flip":
            data[at] = draw.draw(st.integers(0, 255))
        elif kind == "insert":
            data[at:at] = draw.draw(st.binary(min_size=1, max_size=3))
        elif kind == "delete":
            del data[at:at + draw.draw(st.integers(1, 6))]
        elif kind == "duplicate":          # a slice repeated (it may hold a track header)
            data[at:at] = data[draw.draw(st.integers(0, at)):at]
        else:                  # a track length rewritten
            found = data.find(b"MTrk", at) if data.find(b"MTrk", at) >= 0 else data.find(b"MTrk")
            if found >= 0:
                data[found + 4:found + 8] = struct.pack(">I", draw.draw(st.integers(0, 2**32 - 1)))
    if draw.draw(st.booleans()):
        data = data[:draw.draw(st.integers(14, len(data)))]
    return bytes(data)


sources = st.sampled_from([three_tracks(), good_bytes(12), song_to_bytes(melody(16))])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sources, st.data())
def test_any_damage_gives_a_song_or_an_error_in_words(source, draw):
    data = damaged(draw, source)
    for limits in (ReadLimits(), STRICT):
        try:
            song = read_midi(data, limits)
        except MidiReadError as exc:
            assert not PYTHON_WORDS.search(str(exc)), str(exc)
            assert "not a readable MIDI file" not in str(exc)
            song = str(exc)
        else:
            assert limits.salvage or not song.damage
        try:
            fast = read_midi_fast(data, limits)
        except MidiReadError as exc:
            fast = str(exc)
        assert (fast if isinstance(fast, str) else ([t.notes for t in fast.tracks], fast.damage)) == \
            (song if isinstance(song, str) else ([t.notes for t in song.tracks], song.damage))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sources, st.data())
def test_what_salvage_keeps_is_a_file_mido_reads(source, draw):
    data = damaged(draw, source)
    kept = salvage(data, max_events=500_000)
    assert len(kept.data) <= len(data) + 12 * kept.data.count(b"MTrk") + 14
    mido.MidiFile(file=io.BytesIO(kept.data), clip=True)      # raises if not


@settings(max_examples=200, deadline=None)
@given(st.integers(22, len(good_bytes(12))))
def test_a_cut_anywhere_keeps_exactly_the_notes_before_it(cut):
    data = good_bytes(12)              # a tempo event (7 bytes), then 12 notes of 9 bytes
    complete = max(0, (cut - 22 - 7) // 9)
    intact = read_midi(data).tracks[0].notes
    try:
        song = read_midi(data[:cut])
    except MidiReadError:
        assert complete == 0
        return
    assert song.tracks[0].notes == intact[:complete]


# ---------------------------------------------------------------- primers and songs to infill

def test_a_truncated_primer_or_song_is_used_up_to_the_damage_with_a_warning(tiny_melody_model, tmp_path, capsys):
    from composer.cli.main import main
    from composer.services.primer import describe_primer

    whole = song_to_bytes(melody(64, step=0.5))          # 8 bars of 4/4
    cut = tmp_path / "cut.mid"
    cut.write_bytes(whole[:len(whole) * 3 // 4])
    song = read_midi(cut)
    assert song.damage and describe_primer(song, None).endswith(f"; damaged file read up to the damage "
                                                                f"({song.damage})")
    warning = f"warning: {cut} is damaged: read up to the damage ({song.damage})"
    assert main(["generate", "--model", str(tiny_melody_model), "--primer", str(cut), "--count", "1",
                 "--bars", "2", "--seed", "1", "--out", str(tmp_path / "gen"), "--quiet"]) == 0
    assert warning in capsys.readouterr().err.splitlines()
    assert main(["infill", str(tiny_melody_model), str(cut), "--bars", "2", "--count", "1", "--seed", "1",
                 "--out", str(tmp_path / "infill"), "--quiet"]) == 0
    assert warning in capsys.readouterr().err.splitlines()
