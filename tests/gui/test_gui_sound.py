"""The app's sound settings (issue 5: choose any .sf2 and the MIDI output port
in settings): the Sound menu's SoundFont for Play and Export audio, and Play
through a MIDI port instead of the audio output."""
from __future__ import annotations

import shutil

import pytest
from PySide6.QtCore import Qt

from composer.sound import audio
from composer.sound.midiout import midi_status

WAIT_MS = 60_000


def _generate_one(qtbot, window):
    view = window.generate_view
    view.controls.count.setValue(1)
    view.controls.bars.setValue(1)
    qtbot.mouseClick(view.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.job is None, timeout=WAIT_MS)
    return view.results


def test_the_chosen_soundfont_is_used_by_export_and_play_and_kept(qtbot, make_window, gui_settings, tmp_path):
    if not audio.audio_status()[0]:
        pytest.skip(audio.audio_status()[1])
    window = make_window()
    results = _generate_one(qtbot, window)
    errors = []
    window.dialogs.error = lambda title, message, details="": errors.append((title, message))
    (tmp_path / "fake.sf2").write_bytes(b"RIFF not a soundfont")
    window.dialogs.open_file = lambda caption, folder, file_filter: str(tmp_path / "fake.sf2")
    window.soundfont_action.trigger()
    assert errors and errors[0][0] == "Cannot use this SoundFont" and results.soundfont is None
    chosen = tmp_path / "mine.sf2"
    shutil.copy(audio.default_soundfont(), chosen)
    window.dialogs.open_file = lambda caption, folder, file_filter: str(chosen)
    window.soundfont_action.trigger()
    assert results.soundfont == str(chosen) and gui_settings.get("sound/soundfont") == str(chosen)
    if results.audio_player is not None:
        assert results.audio_player._soundfont == str(chosen)
    assert make_window(gui_settings).generate_view.results.soundfont == str(chosen)     # kept in the settings
    chosen.unlink()                                  # Export audio must use it: without it, it fails
    failed = []
    window.dialogs.job_error = lambda title, error: failed.append(error.message)
    window.dialogs.save_file = lambda caption, suggested, file_filter: str(tmp_path / "take.wav")
    assert results.export_audio_button.isEnabled()
    qtbot.mouseClick(results.export_audio_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: results.audio_job is None, timeout=WAIT_MS)
    assert failed and "mine.sf2" in failed[0] and not (tmp_path / "take.wav").exists()
    window.default_soundfont_action.trigger()
    assert results.soundfont is None and gui_settings.get("sound/soundfont") == ""


def test_play_through_a_midi_port_and_back(qtbot, make_window, gui_settings):
    window = make_window()
    results = _generate_one(qtbot, window)
    window.fill_output_menu()
    items = [(a.text(), a.isChecked(), a.isEnabled()) for a in window.output_menu.actions()]
    assert items[0][0].startswith("Play uses: ") and not items[0][2]
    if results.play_reason:
        assert items[2] == ("Audio output (FluidSynth): no device", False, True)
    else:
        assert items[2] == ("Audio output (FluidSynth)", True, True)
    available, reason = midi_status()
    if not available:
        assert items[-1] == (reason, False, False)              # why no port can be chosen
    results.set_midi_port("Synth That Is Not There")
    assert results.player is results.midi_player and gui_settings.get("sound/midi_port") == "Synth That Is Not There"
    window.fill_output_menu()
    checked = [a.text() for a in window.output_menu.actions() if a.isChecked()]
    assert checked == ["MIDI: Synth That Is Not There (not connected)"]
    errors = []
    window.dialogs.error = lambda title, message, details="": errors.append(message)
    if not results.play_reason:
        results.toggle_play()
        qtbot.waitUntil(lambda: bool(errors), timeout=5000)
        assert "Cannot send to MIDI" in errors[0]
    else:
        assert not results.play_button.isEnabled() and results.play_button.toolTip() == results.play_reason
    assert make_window(gui_settings).generate_view.results.midi_port == "Synth That Is Not There"
    next(a for a in window.output_menu.actions() if a.text().startswith("Audio output")).trigger()   # back
    assert results.player is results.audio_player and results.midi_port is None
    assert gui_settings.get("sound/midi_port") == ""


def test_without_sound_the_way_out_is_shown_where_play_is(qtbot, make_window):
    window = make_window()
    results = _generate_one(qtbot, window)
    if not results.play_reason:
        pytest.skip("this machine can play sound")
    note = results.sound_note
    assert note.isVisible() and not results.play_button.isEnabled()
    assert note.text().startswith(f"No sound: {results.play_reason}. ")
    assert "Export audio..." in note.text() and "MIDI port in Sound > Play through" in note.text()
    assert note.geometry().top() >= results.play_button.geometry().bottom()         # just under Play
    # Space is not silent: the status bar says why and what to do
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    assert window.play_action.isEnabled()
    qtbot.keyClick(window, Qt.Key.Key_Space)
    assert window.statusBar().currentMessage() == note.text()
    # the Sound menu shows what Play will use: nothing, and the audio output is not ticked
    window.fill_output_menu()
    actions = window.output_menu.actions()
    assert actions[0].text() == f"Play uses: nothing ({results.play_reason})" and not actions[0].isEnabled()
    audio = next(a for a in actions if a.text().startswith("Audio output"))
    assert audio.text() == "Audio output (FluidSynth): no device" and not audio.isChecked()
