"""The piano roll paints what it is given: notes by velocity, primer faded,
zoom, and a playhead that stays in view."""
from __future__ import annotations

import pytest

from composer.music.song import Note, melody_song
from gui.pianoroll import KEY_WIDTH, PianoRoll, velocity_color


@pytest.fixture
def roll(qtbot):
    widget = PianoRoll()
    qtbot.addWidget(widget)
    widget.resize(640, 360)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def _pixel(roll, note):
    image = roll.viewport().grab().toImage()
    return image.pixelColor(roll.note_rect(note).center().toPoint()).name()


def test_notes_are_drawn_in_their_velocity_colour_and_the_primer_faded(roll):
    soft, loud, primed = Note(4, 6, 60, velocity=20), Note(6, 8, 67, velocity=120), Note(0, 2, 64, velocity=120)
    roll.set_song(melody_song([primed, soft, loud]), primer_beats=4)
    assert _pixel(roll, soft) == velocity_color(20).name()
    assert _pixel(roll, loud) == velocity_color(120).name()
    assert _pixel(roll, primed) == velocity_color(120, faded=True).name()
    assert velocity_color(20).name() != velocity_color(120).name()


def test_zoom_scales_the_time_axis(roll):
    note = Note(1, 2, 60)
    roll.set_song(melody_song([note]))
    width = roll.note_rect(note).width()
    roll.zoom(2.0)
    assert roll.note_rect(note).width() == pytest.approx(2 * width + 1)


def test_playhead_scrolls_into_view_and_is_painted(roll):
    roll.set_song(melody_song([Note(b, b + 1, 60 + b % 12) for b in range(64)]))
    roll.set_playhead(60.0)
    x = KEY_WIDTH - roll.horizontalScrollBar().value() + 60.0 * roll.px_per_beat
    assert KEY_WIDTH <= x <= roll.viewport().width()
    image = roll.viewport().grab().toImage()
    assert image.pixelColor(int(x), roll.viewport().height() - 3).name() == "#dc1e1e"
    roll.set_playhead(None)
    assert roll.playhead_beat is None


def test_empty_roll_paints_without_a_song(roll):
    roll.set_song(None)
    image = roll.viewport().grab().toImage()
    assert not image.isNull() and roll.content_beats() == 16.0


def test_a_piece_that_ends_in_bars_of_rest_shows_all_its_bars(qtbot):
    from dataclasses import replace

    from gui.primer import bar_count, song_before
    from gui.variations import variation_label
    song = replace(melody_song([Note(0, 1, 60), Note(1, 2, 62)]), length=32.0)
    assert bar_count(song) == 8 and variation_label(0, song, "melody").startswith("1. 8 bars")
    roll = PianoRoll()
    qtbot.addWidget(roll)
    roll.set_song(song)
    assert roll.bar_count() == 8
    head = song_before(song, 12.0)
    assert head.length_beats == 12.0 and bar_count(head) == 3


def test_section_letters_are_drawn_as_spans_above_the_ruler(roll, qtbot):
    from composer.services.form_plan import FormSpec
    from gui.pianoroll import RULER_HEIGHT, SECTION_HEIGHT, section_color
    note = Note(0, 1, 60)
    roll.set_song(melody_song([note] + [Note(b * 4, b * 4 + 1, 62) for b in range(1, 8)]))
    spans = FormSpec("AABB", 2).spans()
    assert spans == [("A", 1, 2), ("A", 3, 4), ("B", 5, 6), ("B", 7, 8)]
    roll.set_sections(spans)
    assert roll.ruler_height == RULER_HEIGHT + SECTION_HEIGHT
    assert [roll.section_at(b) for b in (1, 4, 5, 8, 9)] == ["A", "A", "B", "B", None]
    image = roll.viewport().grab().toImage()
    band = SECTION_HEIGHT // 2

    def band_colour(bar, fraction=0.7):
        x = roll.bar_x(bar) + fraction * 4 * roll.px_per_beat
        return image.pixelColor(int(x), band).name()

    assert band_colour(2) == band_colour(3) == section_color(0).name()       # both A phrases
    assert band_colour(6) == band_colour(8) == section_color(1).name()
    assert section_color(0).name() != section_color(1).name()
    letter_pixels = {image.pixelColor(int(roll.bar_x(5)) + dx, y).name() for dx in range(3, 14) for y in range(2, 12)}
    assert len(letter_pixels) > 2                                           # the letter B is written there
    roll.set_sections([])
    assert roll.ruler_height == RULER_HEIGHT
    with pytest.raises(ValueError, match="got 'A', 3, 2"):
        roll.set_sections([("A", 3, 2)])


def test_the_section_band_is_part_of_the_ruler_for_selecting_bars(roll, qtbot):
    from PySide6.QtCore import QPoint, Qt
    roll.set_song(melody_song([Note(b, b + 1, 60) for b in range(32)]))
    roll.set_sections([("A", 1, 4), ("B", 5, 8)])
    x = int(roll.bar_x(6) + 2 * roll.px_per_beat)
    qtbot.mouseClick(roll.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, 4))
    assert roll.selection == (6, 6)
