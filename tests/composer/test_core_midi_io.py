import io
import struct

import mido
import pretty_midi
import pytest

from composer.errors import MidiReadError, OutputExistsError
from composer.music.midifile import read_midi, song_to_bytes, write_midi
from composer.music.song import Note, Song, Track, melody_song


def two_track_song() -> Song:
    lead = Track(notes=[Note(0, 1, 72, 90), Note(1, 1.5, 74, 70), Note(1.5, 3, 76, 100)], program=73, name="Flute")
    bass = Track(notes=[Note(0, 2, 48, 60), Note(2, 4, 43, 60)], program=32, name="Bass")
    drums = Track(notes=[Note(0, 0.25, 36, 100), Note(1, 1.25, 38, 100)], is_drum=True, name="Drums")
    return Song(tracks=[lead, bass, drums], tempos=[(0.0, 96.0), (2.0, 120.0)], time_signatures=[(0.0, 3, 4)])


def test_write_then_read_keeps_notes_programs_drums_tempo_and_meter(tmp_path):
    song = two_track_song()
    path = write_midi(song, tmp_path / "a.mid")
    back = read_midi(path)
    assert [t.notes for t in back.tracks] == [t.notes for t in song.tracks]
    assert [(t.program, t.is_drum, t.name) for t in back.tracks] == [
        (73, False, "Flute"), (32, False, "Bass"), (0, True, "Drums")]
    assert back.tempos == [(0.0, 96.0), (2.0, 120.0)]
    assert back.time_signature == (3, 4)
    assert back.seconds_at(3.0) == pytest.approx(2 * 60 / 96 + 60 / 120)


def test_pretty_midi_and_mido_read_what_we_write(tmp_path):
    data = song_to_bytes(two_track_song())
    pm = pretty_midi.PrettyMIDI(io.BytesIO(data))
    assert [i.program for i in pm.instruments] == [73, 32, 0]
    assert pm.instruments[2].is_drum
    assert [n.pitch for n in pm.instruments[0].notes] == [72, 74, 76]
    assert pm.instruments[0].notes[2].end == pytest.approx(60 / 96 * 2 + 0.5)
    assert mido.MidiFile(file=io.BytesIO(data)).type == 1


def test_repeated_pitch_is_not_cut_by_its_own_note_off():
    song = melody_song([Note(0, 1, 60), Note(1, 2, 60), Note(2, 3, 60)])
    assert read_midi(song_to_bytes(song)).tracks[0].notes == song.tracks[0].notes


def test_write_refuses_to_overwrite_without_force_and_keeps_old_file(tmp_path):
    path = tmp_path / "x.mid"
    write_midi(melody_song([Note(0, 1, 60)]), path)
    before = path.read_bytes()
    with pytest.raises(OutputExistsError, match="x.mid"):
        write_midi(melody_song([Note(0, 1, 62)]), path)
    assert path.read_bytes() == before
    write_midi(melody_song([Note(0, 1, 62)]), path, force=True)
    assert read_midi(path).tracks[0].notes[0].pitch == 62
    assert not [p for p in tmp_path.iterdir() if p.suffix == ".tmp"]


def test_riff_rmid_wrapper_is_unwrapped():
    smf = song_to_bytes(melody_song([Note(0, 1, 64)]))
    data_chunk = b"data" + struct.pack("<I", len(smf)) + smf + (b"\0" if len(smf) % 2 else b"")
    riff = b"RIFF" + struct.pack("<I", 4 + len(data_chunk)) + b"RMID" + data_chunk
    assert read_midi(riff).tracks[0].notes == [Note(0, 1, 64)]


@pytest.mark.parametrize("data, message", [
    (b"", "empty file"),
    (b"hello world, not midi", "no MThd"),
    (b"MThd\x00\x00\x00\x06\x00\x01", "truncated header"),
    (b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x00\x00", "ticks per beat is 0"),
])
def test_bad_bytes_give_one_named_reason(data, message):
    with pytest.raises(MidiReadError, match=message):
        read_midi(data)


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(MidiReadError, match="nope.mid"):
        read_midi(tmp_path / "nope.mid")


def test_track_names_outside_latin1_are_written_not_fatal():
    song = melody_song([Note(0, 1, 60)], name="Flöte – 笛")
    assert read_midi(song_to_bytes(song)).tracks[0].name == "Flöte ? ?"


def writer_style_file(tpb: int) -> bytes:
    """A file at `tpb` ticks per beat laid out as write_midi lays it out, with notes on odd ticks."""
    midi = mido.MidiFile(type=1, ticks_per_beat=tpb)
    midi.tracks.append(mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=600000),
                                       mido.MetaMessage("time_signature", numerator=3, denominator=4),
                                       mido.MetaMessage("end_of_track")]))
    for channel, name, pitch in ((0, "Lead", 72), (9, "Drums", 36)):
        events = [mido.MetaMessage("track_name", name=name), mido.Message("program_change", channel=channel)]
        for k in range(6):
            events += [mido.Message("note_on", channel=channel, note=pitch + k, velocity=90, time=13 + k),
                       mido.Message("note_off", channel=channel, note=pitch + k, velocity=0, time=37)]
        midi.tracks.append(mido.MidiTrack(events + [mido.MetaMessage("end_of_track")]))
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("tpb", [220, 96, 480, 1001])
def test_a_song_is_written_at_the_resolution_it_was_read_at(tpb):
    data = writer_style_file(tpb)
    song = read_midi(data)
    assert song.ticks_per_beat == tpb
    assert song_to_bytes(song) == data                      # every message, on the same tick
    assert mido.MidiFile(file=io.BytesIO(song_to_bytes(song, ticks_per_beat=480))).ticks_per_beat == 480


def test_a_made_song_is_written_at_480_ticks_per_beat():
    song = melody_song([Note(0, 1, 60)])
    assert song.ticks_per_beat is None
    assert mido.MidiFile(file=io.BytesIO(song_to_bytes(song))).ticks_per_beat == 480
    with pytest.raises(ValueError, match="ticks_per_beat.*0"):
        song_to_bytes(song, ticks_per_beat=0)
