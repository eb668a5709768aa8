"""The generate view driven through the real window (offscreen): generate,
cancel, export, continue, regenerate, errors as dialogs, closing mid-job."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from composer.music.midifile import read_midi, write_midi
from composer.music.song import Note, Song, Track, melody_song
from gui.pianoroll import velocity_color
from gui.primer import bar_count

WAIT_MS = 60_000


def _setup(window, *, count=3, bars=2, seed=7):
    c = window.generate_view.controls
    c.count.setValue(count)
    c.bars.setValue(bars)
    c.seed.setValue(seed)
    c.lock_seed.setChecked(True)           # these tests mean this seed
    c.temperature.setValue(1.0)
    c.top_p.setValue(1.0)
    return window.generate_view


def _generate(qtbot, view):
    qtbot.mouseClick(view.generate_button, Qt.MouseButton.LeftButton)
    assert view.job is not None
    qtbot.waitUntil(lambda: view.job is None, timeout=WAIT_MS)


def test_generate_lists_and_draws_variations(qtbot, make_window):
    window = make_window()
    view = _setup(window, count=3, bars=2)
    assert view.current_entry().name == "tiny-melody"
    _generate(qtbot, view)
    variations = view.results.variations
    assert variations.count() == 3
    assert all(bar_count(song) == 2 for song in variations.songs)
    roll = view.results.roll
    assert roll.song is variations.songs[0] and roll.song.notes
    assert view.progress.value() == view.progress.maximum()
    # the selected variation is what is painted: a note's cell has its velocity colour
    image = roll.viewport().grab().toImage()
    note = next(n for n in roll.song.notes if roll.note_rect(n).center().x() < roll.viewport().width() - 5)
    center = roll.note_rect(note).center().toPoint()
    assert image.pixelColor(center).name() == velocity_color(note.velocity).name()
    variations.setCurrentRow(2)
    assert roll.song is variations.songs[2]
    assert window.export_action.isEnabled()


def test_cancel_mid_generation_stops_and_ui_stays_usable(qtbot, make_window):
    window = make_window()
    view = _setup(window, count=16, bars=256)
    qtbot.mouseClick(view.generate_button, Qt.MouseButton.LeftButton)
    assert not view.generate_button.isEnabled() and view.cancel_button.isEnabled()
    # notes stream into the piano roll while sampling
    qtbot.waitUntil(lambda: view.results.roll.song is not None and len(view.results.roll.song.notes) > 0,
                    timeout=WAIT_MS)
    assert view.job is not None and view.progress.value() < view.progress.maximum()
    qtbot.mouseClick(view.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.job is None, timeout=WAIT_MS)
    assert "cancelled" in view.message.text()
    assert view.results.variations.count() == 0 and view.results.roll.song is None
    assert view.generate_button.isEnabled() and not view.cancel_button.isEnabled()
    _setup(window, count=2, bars=1)
    _generate(qtbot, view)
    assert view.results.variations.count() == 2


def test_the_piano_roll_previews_the_selected_variation_while_sampling(qtbot, make_window):
    """Only the variation shown is decoded while sampling: the selected row's,
    following the selection as it changes."""
    window = make_window()
    view = _setup(window, count=3, bars=1)
    _generate(qtbot, view)
    view.results.variations.setCurrentRow(2)
    _setup(window, count=3, bars=256)
    qtbot.mouseClick(view.generate_button, Qt.MouseButton.LeftButton)
    rows = []
    view.job.progressed.connect(lambda update: rows.append((update.info.row, len(update.info.song.notes))))
    qtbot.waitUntil(lambda: len(rows) >= 2 and rows[-1][1] > 0, timeout=WAIT_MS)
    assert {row for row, _ in rows} == {2}
    view.results.variations.setCurrentRow(1)       # the old list's row 1: preview variation 1 from now on
    seen = len(rows)
    qtbot.waitUntil(lambda: len(rows) >= seen + 2, timeout=WAIT_MS)
    assert rows[-1][0] == 1 and view.results.roll.song.notes
    # what is drawn is a piece still being sampled: Export and Play would act on the old entry, so they are off
    assert not view.results.export_button.isEnabled() and not window.export_action.isEnabled()
    assert not view.results.export_audio_button.isEnabled()
    qtbot.mouseClick(view.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.job is None, timeout=WAIT_MS)
    assert view._preview is None
    assert view.results.export_button.isEnabled() and window.export_action.isEnabled()     # the old list again
    assert view.results.roll.song is view.results.variations.songs[1]


def test_export_writes_a_mid_with_the_notes_shown_and_never_overwrites_silently(qtbot, make_window, tmp_path):
    window = make_window()
    view = _setup(window, count=2, bars=2)
    _generate(qtbot, view)
    view.results.variations.setCurrentRow(1)
    shown = view.results.roll.song.notes
    target = tmp_path / "exported"
    window.dialogs.save_file = lambda caption, suggested, file_filter: str(target)
    asked = []

    def refuse(title, question):
        asked.append(question)
        return False

    window.dialogs.confirm = refuse
    window.export_action.trigger()
    written = tmp_path / "exported.mid"
    assert written.is_file() and not asked
    back = read_midi(written).notes
    assert [(n.start, n.end, n.pitch) for n in back] == [(n.start, n.end, n.pitch) for n in shown]
    # a second export to the same file asks; "no" leaves the file alone
    view.results.variations.setCurrentRow(0)
    before = written.read_bytes()
    window.export_action.trigger()
    assert len(asked) == 1 and written.read_bytes() == before
    window.dialogs.confirm = lambda title, question: True
    window.export_action.trigger()
    assert [n.pitch for n in read_midi(written).notes] == [n.pitch for n in view.results.variations.songs[0].notes]


def test_export_to_a_fifo_or_folder_says_why_and_leaves_it(qtbot, make_window, tmp_path):
    window = make_window()
    view = _setup(window, count=1, bars=2)
    _generate(qtbot, view)
    fifo, folder = tmp_path / "pipe.mid", tmp_path / "folder.mid"
    os.mkfifo(fifo)
    folder.mkdir()
    asked, shown = [], []
    window.dialogs.confirm = lambda title, question: asked.append(question) or True
    window.dialogs.errorShown.connect(lambda box: shown.append(box.text()))
    for target, kind in ((fifo, "a FIFO (named pipe)"), (folder, "a folder")):
        window.dialogs.save_file = lambda caption, suggested, file_filter, target=target: str(target)
        window.export_action.trigger()
        assert shown[-1] == f"{target} is {kind}, not a file: choose another file name"
    assert not asked and stat.S_ISFIFO(os.lstat(fifo).st_mode) and folder.is_dir() and not any(folder.iterdir())
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".mid") == ["folder.mid", "pipe.mid"]


def test_worker_error_becomes_a_dialog_with_the_traceback(qtbot, make_window):
    window = make_window()
    view = _setup(window, count=1, bars=2)
    odd_meter = Song(tracks=[Track(notes=[Note(i * 0.5, i * 0.5 + 0.5, 60 + i) for i in range(12)])],
                     time_signatures=[(0.0, 9, 1)])       # a bar of 9 whole notes: no model's meter
    view.set_primer_song(odd_meter, "odd.mid")
    with qtbot.waitSignal(window.dialogs.errorShown, timeout=WAIT_MS) as blocker:
        qtbot.mouseClick(view.generate_button, Qt.MouseButton.LeftButton)
    box = blocker.args[0]
    assert "9/1" in box.text()
    assert "Traceback" in box.detailedText()
    qtbot.waitUntil(lambda: view.job is None, timeout=WAIT_MS)
    box.accept()
    view.clear_primer()
    _generate(qtbot, view)
    assert view.results.variations.count() == 1


def test_continue_primes_the_next_generation_with_the_variation(qtbot, make_window):
    window = make_window()
    view = _setup(window, count=1, bars=2)
    _generate(qtbot, view)
    first = view.results.current_song()
    qtbot.mouseClick(view.results.continue_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.job is None, timeout=WAIT_MS)
    continued = view.results.current_song()
    assert "variation 1" in view.controls.primer_label.text()
    assert bar_count(continued) == 4
    assert [n for n in continued.notes if n.start < 8] == [n for n in first.notes if n.start < 8]
    assert view.results.variations.primer_beats > 0


def test_regenerate_from_bar_keeps_the_bars_before_it(qtbot, make_window):
    window = make_window()
    view = _setup(window, count=1, bars=4, seed=3)
    _generate(qtbot, view)
    original = view.results.current_song()
    view.results.regen_bar.setValue(3)
    qtbot.mouseClick(view.results.regen_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.job is None, timeout=WAIT_MS)
    again = view.results.current_song()
    cut = 2 * original.bar_length()
    kept = [(n.start, min(n.end, cut), n.pitch) for n in original.notes if n.start < cut]
    assert [(n.start, min(n.end, cut), n.pitch) for n in again.notes if n.start < cut] == kept
    assert bar_count(again) == 4
    assert any(n.start >= cut for n in again.notes)


def test_primer_file_shows_how_it_is_reduced_to_a_melody(qtbot, make_window, tmp_path):
    window = make_window()
    view = window.generate_view
    bass = Track(notes=[Note(i, i + 1, 40) for i in range(8)], name="Bass", program=33)
    flute_notes = []
    for i in range(8):
        flute_notes.append(Note(i, i + 1, 72 + i % 3))
        if i < 3:
            flute_notes.append(Note(i, i + 1, 64))        # a chord note under the tune
    flute = Track(notes=flute_notes, name="Flute", program=73)
    path = write_midi(Song(tracks=[bass, flute]), tmp_path / "duo.mid")
    assert view.set_primer_file(path)
    text = view.controls.primer_label.text()
    assert "track 1 'Flute'" in text and "3 chord notes dropped" in text and "1 other track(s) ignored" in text
    assert view.controls.primer_clear.isEnabled()


def test_a_truncated_primer_plays_up_to_the_damage_and_says_so(qtbot, make_window, tmp_path):
    view = make_window().generate_view
    path = write_midi(melody_song([Note(i / 2, i / 2 + 0.5, 60 + i % 12) for i in range(32)]), tmp_path / "cut.mid")
    path.write_bytes(path.read_bytes()[:-60])
    assert view.set_primer_file(path)
    assert 0 < len(view.primer.notes) < 32
    assert view.controls.primer_label.text().endswith(f"; damaged file read up to the damage ({view.primer.damage})")
    assert view.primer.damage.startswith("truncated at byte")


def test_unreadable_primer_is_reported_and_ignored(qtbot, make_window, tmp_path):
    window = make_window()
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"not a midi file at all")
    with qtbot.waitSignal(window.dialogs.errorShown) as blocker:
        assert not window.generate_view.set_primer_file(bad)
    assert "bad.mid" in blocker.args[0].text() or "MIDI" in blocker.args[0].text()
    assert window.generate_view.primer is None


def test_drag_out_of_the_list_gives_a_temporary_mid_file(qtbot, make_window):
    window = make_window()
    view = _setup(window, count=2, bars=1)
    _generate(qtbot, view)
    variations = view.results.variations
    mime = variations.mimeData([variations.item(1)])
    assert set(mime.formats()) >= {"text/uri-list", "audio/midi"}
    urls = mime.urls()
    assert len(urls) == 1 and urls[0].isLocalFile()
    path = Path(urls[0].toLocalFile())
    assert path.suffix == ".mid" and path.is_file()
    assert bytes(mime.data("audio/midi")) == path.read_bytes()
    song = variations.songs[1]
    assert song.notes and _notes(read_midi(path)) == _notes(song)
    assert read_midi(path).time_signature == song.time_signature
    window.close()
    assert not path.exists() and not path.parent.exists()   # the app's drag folder goes with the window


def _notes(song) -> list[tuple]:
    return [(round(n.start, 3), round(n.end, 3), n.pitch, n.velocity) for n in song.notes]


def test_closing_while_generating_asks_then_stops_the_job(qtbot, make_window):
    window = make_window()
    view = _setup(window, count=16, bars=256)
    qtbot.mouseClick(view.generate_button, Qt.MouseButton.LeftButton)
    job = view.job
    questions = []
    window.dialogs.confirm = lambda title, question: questions.append(question) or False
    window.close()
    assert window.isVisible() and job.is_running() and len(questions) == 1
    window.dialogs.confirm = lambda title, question: True
    window.close()
    assert not window.isVisible() and not job.is_running()


def test_play_is_disabled_with_a_reason_when_there_is_no_sound(qtbot, make_window):
    window = make_window()
    view = _setup(window, count=1, bars=1)
    _generate(qtbot, view)
    results = view.results
    if not results.play_reason:
        pytest.skip("this machine can play sound")
    assert not results.play_button.isEnabled()
    assert results.play_button.toolTip() == results.play_reason



def test_export_audio_renders_a_wav_on_a_worker(qtbot, make_window, tmp_path):
    import wave
    window = make_window()
    view = _setup(window, count=1, bars=1)
    _generate(qtbot, view)
    results = view.results
    if results.audio_reason:
        pytest.skip(f"no synthesizer here: {results.audio_reason}")
    window.dialogs.save_file = lambda caption, suggested, file_filter: str(tmp_path / "take.wav")
    qtbot.mouseClick(results.export_audio_button, Qt.MouseButton.LeftButton)
    assert results.audio_job is not None
    qtbot.waitUntil(lambda: results.audio_job is None, timeout=WAIT_MS)
    with wave.open(str(tmp_path / "take.wav")) as handle:
        assert handle.getnchannels() == 2 and handle.getnframes() > 0


def test_dropping_a_mid_on_the_view_sets_the_primer(qtbot, make_window, tmp_path):
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent
    window = make_window()
    view = window.generate_view
    path = write_midi(Song(tracks=[Track(notes=[Note(i, i + 1, 60 + i) for i in range(8)], name="Oboe")]),
                      tmp_path / "dropped.mid")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    enter = QDragEnterEvent(QPointF(20, 20).toPoint(), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    view.dragEnterEvent(enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    view.dropEvent(drop)
    assert view.primer is not None and view.primer_path == str(path)
    assert "dropped.mid" in view.controls.primer_label.text() and "'Oboe'" in view.controls.primer_label.text()


def test_a_performance_model_is_asked_for_seconds(qtbot, make_window, tmp_path):
    from tinymodels import tiny_model_file
    model = tiny_model_file(tmp_path / "tiny-piano.model", "performance", "gru", steps=5)
    window = make_window()
    view = window.generate_view
    view.add_model(model)
    c = view.controls
    assert view.current_entry().representation == "performance"
    assert c.seconds.isVisibleTo(window) and not c.bars.isVisibleTo(window)
    c.seconds.setValue(2.0)
    c.count.setValue(2)
    _generate(qtbot, view)
    songs = view.results.variations.songs
    assert len(songs) == 2 and all(0 < s.duration_seconds <= 3.0 for s in songs)
    assert " s, " in view.results.variations.item(0).text()
    view.results.roll.set_selection(1, 1)
    assert view.results.roll.selection == (1, 1)
    assert not view.results.infill_action.isEnabled()            # infill rewrites melody bars
    assert "melody model" in view.results.infill_button.toolTip()


def test_the_playhead_follows_the_players_position(qtbot, make_window):
    window = make_window()
    view = _setup(window, count=1, bars=2)
    _generate(qtbot, view)
    results = view.results
    if results.player is None:
        pytest.skip("gui.player is not there yet")
    song = results.current_song()
    results.player.stateChanged.emit("playing")        # what the real player reports when it starts
    results.player.positionChanged.emit(1.5)
    assert results.playing and results.play_button.text() == "Stop"
    assert results.roll.playhead_beat == pytest.approx(song.beat_at(1.5))
    results.player.stateChanged.emit("stopped")
    assert results.roll.playhead_beat is None and results.play_button.text() == "Play"


def test_each_variation_shows_its_copy_meter(qtbot, make_window, tmp_path):
    """The list shows the longest run of training notes in each variation
    (the index stored in the model file), marks a near-quotation, and measures
    a variation again when it changes."""
    from composer.model.copyindex import CopyIndex
    from composer.model.modelfile import store_copy_index
    from gui.variations import COPY_WARN_NOTES, WARN_COLOR
    from tests.tinymodels import scale_tune, tiny_model_file
    path = tiny_model_file(tmp_path / "indexed.model", steps=30)
    window = make_window()
    view = _setup(window, count=3, bars=4, seed=11)
    view.add_model(path)
    _generate(qtbot, view)
    variations = view.results.variations
    assert variations.copies is None                         # no index in this file yet
    assert " · copy" not in variations.item(0).text()
    assert "holds no index" in variations.item(0).toolTip()
    assert not view.controls.max_copy.isEnabled() and view.controls.copy_limit() is None
    first = list(variations.songs)
    store_copy_index(path, CopyIndex.from_songs({"own0.mid": first[0], "other.mid": melody_song(scale_tune())}))
    _generate(qtbot, view)                                   # the changed file is loaded again; same seed
    assert variations.songs == first
    length, source = variations.copies[0]
    assert (length, source) == (len(first[0].notes), "own0.mid") and length >= COPY_WARN_NOTES
    item = variations.item(0)
    assert item.text().endswith(f" · copy: {length} notes ⚠") and "own0.mid" in item.toolTip()
    assert item.foreground().color() == WARN_COLOR
    assert variations.copies[1][0] < COPY_WARN_NOTES and variations.item(1).foreground().color() != WARN_COLOR
    assert view.results.record_edit("replace all notes", variations.songs[0], melody_song(scale_tune()))
    assert variations.copies[0] == (16, "other.mid") and variations.item(0).text().endswith(" · copy: 16 notes ⚠")
    # with a copy limit, the variation that copies its whole self is sampled again
    assert view.controls.max_copy.isEnabled()
    view.controls.max_copy.setValue(8)
    notes = []
    view.generate()
    view.job.progressed.connect(lambda update: notes.append(view.message.text()))
    qtbot.waitUntil(lambda: view.job is None, timeout=WAIT_MS)
    assert "Sampling again the variations that copy more than 8 notes..." in notes
    assert variations.songs[0] != first[0] and variations.songs[1:] == first[1:]
    assert variations.copies[0][0] <= 8 or "still above" in view.message.text()
    assert "copy limit 8 notes: 1 sampled again" in view.message.text()
    assert window.settings.get("generate/max_copy") == 8


def test_an_infill_model_is_never_the_default_and_cannot_generate(qtbot, make_window, gui_settings, tmp_path):
    """A new user's picker selects the shipped left-to-right model, not the infill
    model that sorts before it; an infill model selected on purpose has Generate off, saying why."""
    from benchmarks.midi_factory import melody, write_song
    from composer.cli.main import main
    from gui.catalog import INFILL_NOTE
    for i in range(4):
        write_song(melody(64, seed=i), tmp_path / "tunes" / f"t{i}.mid")
    infill = tmp_path / "a-infill.model"
    assert main(["train", str(tmp_path / "tunes"), "--out", str(infill), "--objective", "infill", "--steps", "4",
                 "--layers", "1", "--hidden", "16", "--embed", "8", "--batch", "2", "--seq-len", "16",
                 "--eval-every", "2", "--workers", "1", "--quiet", "--cache-dir", str(tmp_path / "cache")]) == 0
    gui_settings.add_recent_model(infill)                     # listed first among the recent ones; no last model
    window = make_window(gui_settings)
    view = window.generate_view
    entry = view.current_entry()
    assert not entry.infill and entry.origin == "default" and entry.name == "melody"
    infills = [e for e in view.entries if e.infill]
    assert [e.name for e in infills] == ["melody-infill", "a-infill"]
    assert view.entries.index(infills[0]) > [e.name for e in view.entries].index("melody")
    view.add_model(infill)
    assert view.current_entry().infill and " — melody infill, LSTM" in view.model_combo.currentText()
    assert not view.generate_button.isEnabled() and view.generate_button.toolTip() == INFILL_NOTE
    view.generate()                                           # Ctrl+G
    assert view.job is None and "cannot generate from scratch" in view.message.text()


def test_max_copy_follows_the_model_shown_when_another_is_picked_during_a_job(qtbot, make_window, tmp_path):
    from composer.model.copyindex import CopyIndex
    from composer.model.modelfile import store_copy_index
    from tests.tinymodels import scale_tune, tiny_model_file
    indexed = tiny_model_file(tmp_path / "indexed.model", steps=3)
    store_copy_index(indexed, CopyIndex.from_songs({"a.mid": melody_song(scale_tune())}))
    window = make_window()
    view = _setup(window, count=16, bars=256)                 # the tiny model: no copy index
    assert not view.controls.max_copy.isEnabled()
    view.generate()
    view.add_model(indexed)                                   # e.g. Ctrl+O, or a training that ends meanwhile
    assert view.controls.max_copy.isEnabled()
    qtbot.waitUntil(lambda: view.job is None, timeout=WAIT_MS)
    assert view.current_entry().path == indexed and view.controls.max_copy.isEnabled()


def test_quit_is_ctrl_q_on_every_platform(make_window):
    assert make_window().quit_action.shortcut().toString() == "Ctrl+Q"
