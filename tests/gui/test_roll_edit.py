"""The piano roll's note edits as pure functions (gui/roll_edit.py): snapping,
drawing, moving, resizing, deleting; the song given is never changed."""
from __future__ import annotations

import pytest

from composer.music.song import Note, Song, Track, melody_song
from gui import roll_edit


def _song() -> Song:
    return melody_song([Note(0, 1, 60), Note(1, 2, 62), Note(2, 4, 64, velocity=100)], tempo=90, program=40)


@pytest.mark.parametrize("name, step", [("bar", 3.0), ("beat", 1.0), ("1/8", 0.5), ("1/16", 0.25), ("off", 0.0)])
def test_snap_steps_follow_the_meter(name, step):
    assert roll_edit.snap_step(name, melody_song([], time_signature=(3, 4))) == step


def test_an_unknown_snap_is_refused_by_name():
    with pytest.raises(ValueError, match="'1/7'"):
        roll_edit.snap_step("1/7", None)


def test_snap_nearest_and_floor():
    assert roll_edit.snap(1.1, 0.25) == 1.0
    assert roll_edit.snap(1.2, 0.25) == 1.25
    assert roll_edit.snap(1.24, 0.25, "floor") == 1.0
    assert roll_edit.snap(0.75, 0.25, "floor") == 0.75
    assert roll_edit.snap(1.13, 0.0) == 1.13


def test_drawn_notes_snap_both_ends_and_are_at_least_one_step():
    assert roll_edit.drawn(1.3, 1.3, 65, 0.5) == Note(1.0, 1.5, 65, roll_edit.DRAW_VELOCITY)
    assert roll_edit.drawn(1.3, 2.9, 65, 0.5) == Note(1.0, 3.0, 65, roll_edit.DRAW_VELOCITY)
    assert roll_edit.drawn(2.9, 1.3, 65, 0.5) == Note(1.0, 3.0, 65, roll_edit.DRAW_VELOCITY)   # dragged leftwards


def test_a_move_keeps_the_group_inside_the_song_and_the_pitch_range():
    notes = [Note(1, 2, 60), Note(3, 4, 120)]
    assert roll_edit.moved(notes, -5.0, 12) == [Note(0, 1, 67), Note(2, 3, 127)]


def test_edits_return_a_new_song_and_leave_the_old_one_alone():
    song = _song()
    notes = list(song.notes)
    edit = roll_edit.move_edit(song, notes[:2], 1.0, 2)
    assert song.notes == notes
    assert edit.after.notes == sorted([Note(1, 2, 62), Note(2, 3, 64), notes[2]])
    assert edit.selected_after == (Note(1, 2, 62), Note(2, 3, 64)) and edit.text == "move 2 notes"
    assert edit.after.tempo == 90 and edit.after.tracks[0].program == 40
    assert roll_edit.move_edit(song, notes[:1], 0.0, 0) is None          # nothing changes: no undo step


def test_resize_and_delete():
    song = _song()
    longer = roll_edit.resize_edit(song, [Note(0, 1, 60)], 0.5, 0.25)
    assert Note(0, 1.5, 60) in longer.after.notes and len(longer.after.notes) == 3
    shortest = roll_edit.resize_edit(song, [Note(0, 1, 60)], -3.0, 0.25)
    assert Note(0, 0.25, 60) in shortest.after.notes
    gone = roll_edit.delete_edit(song, [Note(1, 2, 62)])
    assert Note(1, 2, 62) not in gone.after.notes and len(gone.after.notes) == 2 and gone.selected_after == ()


def test_moved_notes_stay_in_their_track_and_drawn_notes_go_to_the_first_pitched_one():
    drums = Track(notes=[Note(0, 1, 36)], is_drum=True)
    bass, lead = Track(notes=[Note(0, 4, 40)], program=33), Track(notes=[Note(0, 1, 72)], program=73)
    song = Song(tracks=[drums, bass, lead])
    edit = roll_edit.move_edit(song, [Note(0, 1, 72)], 1.0, 0)
    assert edit.after.tracks[2].notes == [Note(1, 2, 72)] and edit.after.tracks[0].notes == [Note(0, 1, 36)]
    drawn = roll_edit.draw_edit(song, Note(2, 3, 50), [])
    assert Note(2, 3, 50) in drawn.after.tracks[1].notes
    assert roll_edit.audition_song(song, Note(0, 1, 72)).tracks[0].program == 73


def test_a_song_without_a_pitched_track_gets_one_for_a_drawn_note():
    song = Song(tracks=[Track(notes=[Note(0, 1, 36)], is_drum=True)])
    after = roll_edit.draw_edit(song, Note(0, 1, 60), []).after
    assert after.notes == [Note(0, 1, 60)] and len(after.tracks) == 2
