"""The Form control of the Generate tab (gui/form_controls.py): its values
reach the request, a generated piece gets its form's letters over the ruler,
a performance model greys it; the Max copy box skips the limits the service
refuses; the time signature and scale boxes."""
from __future__ import annotations

import math

import pytest
from PySide6.QtCore import Qt

from composer.errors import ComposerError
from composer.services.form_plan import FormSpec
from gui.primer import bar_count

WAIT_MS = 60_000


def _view(window, *, count=2, bars=8, seed=5):
    view = window.generate_view
    c = view.controls
    c.count.setValue(count)
    c.bars.setValue(bars)
    c.seed.setValue(seed)
    c.lock_seed.setChecked(True)
    return view


def _generate(qtbot, view, button=None):
    qtbot.mouseClick(button or view.generate_button, Qt.MouseButton.LeftButton)
    assert view.job is not None
    qtbot.waitUntil(lambda: view.job is None, timeout=WAIT_MS)


def _bar_contents(song, bar: int) -> list[tuple[float, int]]:
    """(onset within the bar, pitch) of the notes starting in bar `bar` (1-based)."""
    length = song.bar_length()
    return [(round(n.start - (bar - 1) * length, 6), n.pitch) for n in song.notes
            if (bar - 1) * length <= n.start < bar * length]


def test_the_form_controls_reach_the_request(make_window):
    window = make_window()
    c = window.generate_view.controls
    f = c.form_control
    assert f.form.currentText() == "auto" and c.request().form == "auto"       # the default, as the CLI's
    assert not f.phrase_bars.isVisibleTo(window) and not f.vary.isVisibleTo(window)
    f.form.setCurrentText("AABB")
    assert f.phrase_bars.isVisibleTo(window) and f.vary.isVisibleTo(window)
    f.phrase_bars.setValue(2)
    f.vary.setChecked(True)
    request = c.request()
    assert (request.form, request.phrase_bars, request.vary) == ("AABB", 2, True)
    f.phrase_bars.setValue(0)                                   # auto: the length / phrases
    assert c.request().phrase_bars is None and f.phrase_bars.text() == "phrases: auto"
    f.form.setCurrentText("free")                               # hidden values are not sent
    request = c.request()
    assert (request.form, request.phrase_bars, request.vary) == ("free", None, False)


def test_a_generated_aabb_piece_gets_its_letters_drawn(qtbot, make_window):
    window = make_window()
    view = _view(window)
    view.controls.form_control.form.setCurrentText("AABB")
    _generate(qtbot, view)
    roll, variations = view.results.roll, view.results.variations
    spans = [("A", 1, 2), ("A", 3, 4), ("B", 5, 6), ("B", 7, 8)]
    assert spans == FormSpec("AABB", 2).spans()
    for row in range(variations.count()):
        variations.setCurrentRow(row)
        song = variations.songs[row]
        assert roll.song is song and roll.sections == spans and bar_count(song) == 8
        assert _bar_contents(song, 3) == _bar_contents(song, 1) and _bar_contents(song, 4) == _bar_contents(song, 2)
        assert _bar_contents(song, 7) == _bar_contents(song, 5)
    # Continue: the form on the new bars, after the variation
    first = variations.songs[0]
    variations.setCurrentRow(0)
    _generate(qtbot, view, view.results.continue_button)
    start = math.ceil(first.end_beat / first.bar_length() - 1e-9) + 1
    assert roll.sections == FormSpec("AABB", 2).spans(start)
    assert bar_count(view.results.current_song()) == start + 7
    # free: no letters
    view.controls.form_control.form.setCurrentText("free")
    view.clear_primer()
    _generate(qtbot, view)
    assert roll.song is variations.songs[0] and roll.sections == []


def test_auto_draws_abac_and_regenerate_from_bar_is_free(qtbot, make_window):
    window = make_window()
    view = _view(window, count=1, bars=8)
    _generate(qtbot, view)
    roll = view.results.roll
    assert roll.sections == FormSpec("ABAC", 2, vary=True).spans()
    view.results.regen_bar.setValue(3)
    _generate(qtbot, view, view.results.regen_button)
    assert roll.sections == [] and bar_count(view.results.current_song()) == 8


def test_a_file_opened_to_edit_has_no_letters(qtbot, make_window, tmp_path):
    from composer.music.midifile import write_midi
    from composer.music.song import Note, melody_song
    window = make_window()
    view = _view(window, count=1, bars=8)
    _generate(qtbot, view)
    assert view.results.roll.sections
    path = write_midi(melody_song([Note(b, b + 1, 60 + b % 5) for b in range(16)]), tmp_path / "mine.mid")
    assert view.results.load_song_file(path)
    assert view.results.roll.sections == []


def test_the_form_settings_persist(make_window, gui_settings):
    from gui.settings import Settings
    window = make_window()
    f = window.generate_view.controls.form_control
    f.form.setCurrentText("ABAC")
    f.phrase_bars.setValue(4)
    f.vary.setChecked(True)
    window.close()
    assert (gui_settings.get("generate/form"), gui_settings.get("generate/phrase_bars"),
            gui_settings.get("generate/vary")) == ("ABAC", 4, True)
    again = make_window(settings=Settings.at_path(gui_settings.qsettings.fileName()))
    f = again.generate_view.controls.form_control
    assert (f.form.currentText(), f.phrase_bars.value(), f.vary.isChecked()) == ("ABAC", 4, True)


def test_a_performance_model_greys_the_form_and_generates_free(qtbot, make_window, tmp_path):
    from tinymodels import tiny_model_file
    model = tiny_model_file(tmp_path / "tiny-piano.model", "performance", "gru", steps=5)
    window = make_window()
    view = window.generate_view
    f = view.controls.form_control
    f.form.setCurrentText("AABB")
    view.add_model(model)
    assert view.current_entry().representation == "performance"
    assert not f.isEnabled() and not f.form.isEnabled()
    assert "needs a melody model" in f.form.toolTip() and "performance" in f.form.toolTip()
    assert view.controls.request().form == "free"
    view.controls.seconds.setValue(2.0)
    view.controls.count.setValue(1)
    _generate(qtbot, view)                                       # no "needs a melody model" error
    assert view.results.variations.count() == 1 and view.results.roll.sections == []
    qtbot.mouseClick(view.results.continue_button, Qt.MouseButton.LeftButton)     # Continue: free as well
    qtbot.waitUntil(lambda: view.job is None, timeout=WAIT_MS)
    assert view.results.variations.count() == 1 and view.results.roll.sections == []
    view.model_combo.setCurrentIndex(next(i for i, e in enumerate(view.entries) if e.representation == "melody"))
    assert f.isEnabled() and f.form.currentText() == "AABB" and "a repeated letter" in f.form.toolTip()


def test_a_frames_model_generates_bars_with_the_form_greyed(qtbot, make_window, tmp_path):
    from tinymodels import tiny_model_file
    model = tiny_model_file(tmp_path / "tiny-chorale.model", "frames", steps=5)
    view = _view(make_window(), count=1, bars=2)
    view.add_model(model)
    assert view.current_entry().representation == "frames"
    c = view.controls
    assert c.bars.isVisibleTo(c) and not c.seconds.isVisibleTo(c) and c.meter.isVisibleTo(c)
    assert not c.form_control.isEnabled()
    c.meter.setCurrentIndex(c.meter.findText("3/4"))
    request = c.request()
    assert (request.bars, request.seconds, request.time_signature, request.form) == (2, None, (3, 4), "free")
    _generate(qtbot, view)
    song = view.results.current_song()
    assert song.time_signature == (3, 4) and song.length == pytest.approx(6.0)
    assert view.results.variations.item(0).text().startswith("1. 2 bars")


def test_max_copy_offers_off_then_4_upward(make_window):
    window = make_window()
    box = window.generate_view.controls.max_copy
    box.setValue(0)
    box.stepBy(1)
    assert box.value() == 4
    box.stepBy(-1)
    assert box.value() == 0 and box.text() == "off"
    box.setValue(2)
    assert box.value() == 4
    box.setValue(9)
    box.stepBy(-3)
    assert box.value() == 6
    from PySide6.QtGui import QValidator
    assert box.validate("3 notes", 1)[0] == QValidator.State.Intermediate
    assert box.validate("12 notes", 2)[0] == QValidator.State.Acceptable


def test_time_signature_is_the_models_choice_or_a_meter_picked_or_typed(qtbot, make_window):
    controls = make_window().generate_view.controls
    assert controls.meter.currentText() == "model's choice" and controls.request().time_signature is None
    assert [controls.meter.itemText(i) for i in range(1, controls.meter.count())] == \
        ["2/4", "3/4", "4/4", "6/8", "9/8", "12/8", "2/2", "3/8", "5/4"]
    controls.meter.setCurrentIndex(controls.meter.findText("6/8"))
    assert controls.request().time_signature == (6, 8)
    controls.meter.setCurrentText("7/8")
    assert controls.request().time_signature == (7, 8)
    controls.set_kind("performance")
    assert not controls.meter.isVisibleTo(controls) and controls.request().time_signature is None
    controls.set_kind("melody")
    controls.meter.setCurrentText("seven")
    with pytest.raises(ComposerError, match="time signature must look like 6/8, got 'seven'"):
        controls.request()


def test_scales_show_words_and_request_identifiers(qtbot, make_window):
    controls = make_window().generate_view.controls
    shown = [controls.scale.itemText(i) for i in range(controls.scale.count())]
    assert "harmonic minor" in shown and "major pentatonic" in shown and not any("_" in s for s in shown)
    controls.scale.setCurrentText("major pentatonic")
    assert controls.request().scale == "major_pentatonic"
    controls.scale.setCurrentIndex(0)
    assert controls.request().scale is None
