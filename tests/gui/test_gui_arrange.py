"""Harmonise, Add drums and Regenerate part in the app (offscreen), with a tiny
harmoniser and a drums model made in code: takes on a worker, accepted, undone
and redone; the melody kept exactly; every part exported; and the wrong model
or a song without a melody gets the CLI's one-line message."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from tinyharmony import tiny_harmonizer_file

from composer.cli.main import main
from composer.music.midifile import read_midi, write_midi
from composer.music.song import Note, Song, Track, melody_song

WAIT_MS = 60_000


def tune() -> Song:
    """Four 4/4 bars of quarter notes on C major chord tones."""
    pitches = [72, 76, 79, 76, 77, 81, 84, 81, 79, 83, 86, 83, 72, 76, 79, 72]
    return melody_song([Note(float(i), i + 1.0, p) for i, p in enumerate(pitches)], tempo=100, program=73)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A user models folder with a tiny harmoniser (alto, tenor, bass) and an untrained drums model."""
    from composer.model.modelfile import save_model
    from composer.model.network import ModelConfig, MusicRNN
    from composer.representations.drums import DrumsTokenizer
    folder = tmp_path_factory.mktemp("user-models")
    tiny_harmonizer_file(folder / "satb.model")
    tok = DrumsTokenizer()
    network = MusicRNN(ModelConfig(vocab_size=tok.vocab_size, hidden_size=8, embed_dim=4, num_layers=1,
                                   position_classes=tok.position_classes))
    save_model(folder / "kit.model", network, tok, {"steps": 0, "corpus": {"name": "none"}})
    return folder


@pytest.fixture
def view(make_window, models):
    window = make_window(models_dir=models)
    view = window.generate_view
    view.controls.count.setValue(3)
    view.results.set_results([tune()], "melody", 5, 0.0, label="tune")
    return view


def run(qtbot, view, button) -> None:
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert view.job is not None
    qtbot.waitUntil(lambda: view.job is None, timeout=WAIT_MS)


def test_the_model_lists_offer_the_models_of_their_kind(view, models):
    bar = view.results.arrange
    # the shipped Bach harmoniser (composer/assets) is offered beside the user's own
    assert [bar.harmony_model.itemText(i) for i in range(bar.harmony_model.count())] == [
        "bach-harmonizer", "satb", "Open model file..."]
    assert [bar.drums_model.itemText(i) for i in range(bar.drums_model.count())] == ["kit", "Open model file..."]
    assert bar.harmonize_button.isEnabled() and bar.drums_button.isEnabled()
    assert not bar.part_button.isVisible()                   # one part: nothing to make again alone


def test_harmonise_takes_accept_undo_redo_and_export_every_part(qtbot, view, tmp_path):
    results, bar = view.results, view.results.arrange
    original = results.current_song()
    run(qtbot, view, bar.harmonize_button)
    panel = results.infill_panel
    assert panel.is_open() and len(panel.takes) == 3 and panel.list.count() == 4
    for take in panel.takes:
        assert take.tracks[0] == original.tracks[0]          # the melody exactly as it was
        assert [t.name for t in take.tracks[1:]] == ["Alto", "Tenor", "Bass"]
    shown = results.roll.song
    assert shown is panel.takes[0] and results.parts.isVisible() and len(results.parts.rows) == len(shown.tracks)
    colors, _ = results.parts.note_colors(shown)
    assert len({colors[n].name() for n in shown.tracks[0].notes}) == 1 and len(colors) == len(
        {n for t in shown.tracks for n in t.notes})
    panel.list.setCurrentRow(2)
    second = panel.takes[1]
    qtbot.mouseClick(panel.accept_button, Qt.MouseButton.LeftButton)
    accepted = results.current_song()
    assert accepted is second and not panel.is_open()
    assert "harmonise variation 1 (take 2)" in results.history_combo.currentText()
    results.undo_action.trigger()
    assert results.current_song() is original and not results.parts.isVisible()
    results.redo_action.trigger()
    assert results.current_song() is accepted
    # Export .mid writes every part, and leaves out a part whose Export box is off
    target = tmp_path / "band.mid"
    view.dialogs.save_file = lambda caption, suggested, file_filter: str(target)
    results.export_midi()
    assert len(read_midi(target).tracks) == 4
    results.parts.rows[3][4].setChecked(False)
    results.export_midi()
    assert len(read_midi(target).tracks) == 3
    # Play uses the parts not muted
    results.parts.rows[1][2].setChecked(True)
    assert len(results.parts.audible(accepted).tracks) == 3


def test_add_drums_then_regenerate_the_drums_in_place(qtbot, view):
    results, bar = view.results, view.results.arrange
    original = results.current_song()
    run(qtbot, view, bar.drums_button)
    panel = results.infill_panel
    assert len(panel.takes) == 3
    for take in panel.takes:
        assert take.tracks[0] is original.tracks[0] and take.tracks[-1].is_drum and take.tracks[-1].notes
    qtbot.mouseClick(panel.accept_button, Qt.MouseButton.LeftButton)
    with_drums = results.current_song()
    assert len(with_drums.tracks) == 2 and "add drums to variation 1 (take 1)" in results.history_combo.currentText()
    assert bar.part_button.isVisible() and bar.part.count() == 1 and bar.part.itemData(0) == 1
    run(qtbot, view, bar.part_button)
    assert panel.title.text() == "Drums of variation 1"
    for take in panel.takes:
        assert take.tracks[0] is with_drums.tracks[0] and len(take.tracks) == 2 and take.tracks[1].is_drum
    qtbot.mouseClick(panel.accept_button, Qt.MouseButton.LeftButton)
    assert results.current_song() is not with_drums and len(results.current_song().tracks) == 2
    results.undo_action.trigger()
    assert results.current_song() is with_drums


def test_regenerate_an_accompaniment_part_keeps_melody_and_drums_and_says_the_others_change(qtbot, view):
    results, bar = view.results, view.results.arrange
    run(qtbot, view, bar.drums_button)
    qtbot.mouseClick(results.infill_panel.accept_button, Qt.MouseButton.LeftButton)
    run(qtbot, view, bar.harmonize_button)
    qtbot.mouseClick(results.infill_panel.accept_button, Qt.MouseButton.LeftButton)
    song = results.current_song()
    assert [t.is_drum for t in song.tracks] == [False, False, False, False, True]   # drums kept under the parts
    assert [bar.part.itemData(i) for i in range(bar.part.count())] == [1, 2, 3, 4]  # not the melody
    with qtbot.waitSignal(view.dialogs.errorShown) as blocker:
        view.regenerate_part(0)
    assert "is the melody: Regenerate part keeps it" in blocker.args[0].text() and view.job is None
    bar.part.setCurrentIndex(1)
    messages = []
    view.status.connect(messages.append)
    run(qtbot, view, bar.part_button)
    assert "the other accompaniment parts are made again too" in messages[0]
    assert "Every accompaniment part is new, not only Tenor" in view.message.text()
    for take in results.infill_panel.takes:
        assert take.tracks[0] is song.tracks[0] and take.tracks[4] is song.tracks[4] and len(take.tracks) == 5


def one_line(text: str) -> str:
    return " ".join(text.split())


def cli_message(capsys, *args) -> str:
    capsys.readouterr()
    assert main([str(a) for a in args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    return one_line(err[-1].removeprefix("error: "))


def app_message(qtbot, view, button) -> str:
    with qtbot.waitSignal(view.dialogs.errorShown, timeout=WAIT_MS) as blocker:
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.job is None, timeout=WAIT_MS)
    return one_line(blocker.args[0].text())


def open_in(view, choice, path) -> None:
    """Pick "Open model file..." in a model list of the Arrange row and open `path`."""
    view.dialogs.open_file = lambda caption, folder, file_filter: str(path)
    choice.setCurrentIndex(choice.count() - 1)
    choice.activated.emit(choice.count() - 1)
    assert choice.path() == path


def test_a_wrong_model_or_no_melody_gets_the_clis_message(qtbot, view, models, tiny_melody_model, tmp_path,
                                                          capsys):
    bar, song_file = view.results.arrange, write_midi(tune(), tmp_path / "tune.mid")
    out = tmp_path / "out"
    cases = [(bar.harmony_model, tiny_melody_model, bar.harmonize_button, "harmonize", "it writes melodies"),
             (bar.harmony_model, models / "kit.model", bar.harmonize_button, "harmonize", "a drums model"),
             (bar.drums_model, models / "satb.model", bar.drums_button, "drums", "not a drums model")]
    for choice, model, button, command, words in cases:
        open_in(view, choice, model)
        cli = cli_message(capsys, command, model, song_file, "--out", out, "--quiet")
        app = app_message(qtbot, view, button)
        assert cli == app and words in app, command
    assert not out.exists()
    drums_only = Song(tracks=[Track([Note(b / 2, b / 2 + 0.25, 42) for b in range(16)], is_drum=True)],
                      length=8.0)
    drums_file = write_midi(drums_only, tmp_path / "drums-only.mid")
    open_in(view, bar.harmony_model, models / "satb.model")
    view.results.set_results([read_midi(drums_file)], "melody", None, 0.0, label="drums only")
    cli = cli_message(capsys, "harmonize", models / "satb.model", drums_file, "--out", out, "--quiet")
    app = app_message(qtbot, view, bar.harmonize_button)
    assert cli == app and "no melody to harmonise" in app


def test_a_shipped_harmoniser_is_not_the_model_generate_starts_with(models, tiny_melody_model, tmp_path):
    """("bach-harmonizer" sorts before "melody": the picker still starts on the melody model.)"""
    import shutil

    from gui.catalog import discover, preferred_index
    assets = tmp_path / "assets"
    assets.mkdir()
    shutil.copy(models / "satb.model", assets / "bach-harmonizer.model")
    shutil.copy(models / "kit.model", assets / "drums.model")
    shutil.copy(tiny_melody_model, assets / "melody.model")
    entries = discover(tmp_path / "none", [], assets)
    assert [e.path.name for e in entries] == ["melody.model", "bach-harmonizer.model", "drums.model"]
    assert entries[preferred_index(entries, "")].path.name == "melody.model"


def test_use_this_take_keeps_the_mute_and_solo_set_on_the_takes(qtbot, view):
    results, bar = view.results, view.results.arrange
    run(qtbot, view, bar.harmonize_button)
    results.parts.rows[1][2].setChecked(True)                # mute Alto while listening to the takes
    results.parts.rows[3][3].setChecked(True)                # solo Bass
    qtbot.mouseClick(results.infill_panel.accept_button, Qt.MouseButton.LeftButton)
    assert [(s.muted, s.soloed) for s in results.parts.states()] == [
        (False, False), (True, False), (False, False), (False, True)]     # (all cleared)
    # a song of one part shows no boxes, so none of them silences it
    results.parts.rows[0][2].setChecked(True)                # mute the melody
    results.undo_action.trigger()
    song = results.current_song()
    assert len(song.tracks) == 1 and not results.parts.isVisible()
    assert results.parts.audible(song) is song and results.parts.exported(song) is song
