"""The piano roll paints what it is given: notes by velocity, primer faded,
zoom, a playhead that stays in view, and pitch names spelled for the key and
readable beside the black keys."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QRect
from PySide6.QtGui import QColor, QFontMetricsF

from composer.music.scales import spell
from composer.music.song import Note, melody_song
from gui.pianoroll import KEY_WIDTH, PianoRoll, velocity_color
from gui.pianoroll_paint import MAX_ROW, black_key_rect, label_font, label_rect


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


def test_pitch_names_stay_left_of_every_black_key_block_and_fit(roll):
    """The names are written where no black-key block is painted (before, the
    blocks covered the sharps' names), and the longest name fits at the largest font."""
    roll.row_height = MAX_ROW
    metrics = QFontMetricsF(label_font(roll))
    for row_top in (0.0, 37.5, 200.0):
        label = label_rect(row_top, roll.row_height)
        block = black_key_rect(row_top, roll.row_height)
        assert label.right() <= block.left() and block.right() <= KEY_WIDTH
        for neighbour in (row_top - roll.row_height, row_top + roll.row_height):
            assert not label.intersects(black_key_rect(neighbour, roll.row_height))
        for key in (None, "F"):
            assert max(metrics.horizontalAdvance(spell(p, key)) for p in range(128)) <= label.width()


def test_pitch_names_are_drawn_beside_the_black_keys(roll):
    """Rendered: a sharp's row has dark name pixels left of its block, and the
    block's colour never appears where the name goes."""
    roll.set_song(melody_song([Note(0, 1, 61), Note(1, 2, 72)]))
    roll.row_height = MAX_ROW
    roll.viewport().update()
    image = roll.viewport().grab().toImage()
    y = roll.origin().y() + (roll.pitch_high - 61) * roll.row_height          # C#4's row
    label = label_rect(y, roll.row_height).toRect().intersected(QRect(0, y, KEY_WIDTH, roll.row_height))
    colours = {image.pixelColor(x, yy).name() for x in range(label.left(), label.right() + 1)
               for yy in range(label.top(), label.bottom() + 1)}
    assert "#3c3c46" not in colours                          # no black-key block over the name
    assert any(QColor(c).lightness() < 100 for c in colours)  # the name itself
    block = black_key_rect(y, roll.row_height).center().toPoint()
    assert image.pixelColor(block).name() == "#3c3c46"


def test_the_roll_spells_names_for_the_chosen_key(qtbot, make_window):
    window = make_window()
    controls, roll = window.generate_view.controls, window.generate_view.results.roll
    assert roll.pitch_label(70) == "A#4"
    controls.key.setCurrentText("F")
    assert roll.pitch_label(70) == "Bb4" and roll.pitch_label(60) == "C4"
    controls.key.setCurrentText("D")
    assert roll.pitch_label(70) == "A#4"
    controls.scale.setCurrentText("minor")          # D minor: F major's notes
    assert roll.pitch_label(70) == "Bb4"
    controls.key.setCurrentText("any")
    assert roll.pitch_label(70) == "A#4"


def test_the_variation_list_spells_its_ranges_as_the_roll_does(qtbot, make_window):
    from composer.music.song import Note, melody_song
    window = make_window()
    controls, variations = window.generate_view.controls, window.generate_view.results.variations
    variations.set_songs([melody_song([Note(0, 1, 63), Note(1, 2, 70)])], "melody", seed=1)
    assert "D#4–A#4" in variations.item(0).text()
    controls.key.setCurrentText("F")
    assert "Eb4–Bb4" in variations.item(0).text()
    controls.key.setCurrentText("any")
    assert "D#4–A#4" in variations.item(0).text()


def test_the_pitch_range_boxes_spell_for_the_key_as_the_roll_does(qtbot):
    from gui.controls import GenerateControls
    controls = GenerateControls()
    qtbot.addWidget(controls)
    low, high = controls.pitch_low, controls.pitch_high
    low.setValue(63)
    high.setValue(82)
    assert (low.text(), high.text()) == ("D#4 (63)", "A#5 (82)")
    controls.key.setCurrentText("F")
    assert (low.text(), high.text()) == ("Eb4 (63)", "Bb5 (82)")
    controls.key.setCurrentText("D")
    assert low.text() == "D#4 (63)"
    controls.scale.setCurrentText("minor")          # D minor: F major's notes
    assert low.text() == "Eb4 (63)"
    low.lineEdit().setText("Gb4")                   # typed in either spelling
    low.interpretText()
    assert (low.value(), low.text()) == (66, "Gb4 (66)")
    controls.key.setCurrentText("any")
    assert low.text() == "F#4 (66)"


def test_a_tall_roll_shows_more_pitches_rather_than_an_empty_band(qtbot):
    from composer.music.song import Note, melody_song
    roll = PianoRoll()
    qtbot.addWidget(roll)
    roll.resize(800, 1200)
    roll.show()
    roll.set_song(melody_song([Note(0, 1, 60), Note(1, 2, 67)]))
    rows = roll.pitch_high - roll.pitch_low + 1
    room = roll.viewport().height() - roll.ruler_height
    assert rows * roll.row_height > room - roll.row_height           # (rows ended at a third of the height)
    assert roll.pitch_low < 60 - 3 and roll.pitch_high > 67 + 3
    roll.resize(800, 300)                                          # smaller again: the song's pitches fit
    assert roll.pitch_low <= 57 and roll.pitch_high >= 70
    assert (roll.pitch_high - roll.pitch_low + 1) * roll.row_height <= roll.viewport().height() + roll.row_height
