"""The same bad request gets the same message from the command line and from
the app: both call the services' validation (composer.services), the CLI
prints it after "error: ", the app shows it in an error dialog."""
from __future__ import annotations

from dataclasses import replace

import pytest
from PySide6.QtCore import Qt
from tinymodels import scale_tune, tiny_model_file

from composer.cli.main import main
from composer.music.midifile import write_midi
from composer.music.song import melody_song

WAIT_MS = 60_000


def one_line(text: str) -> str:
    return " ".join(text.split())


def cli_message(capsys, *args) -> str:
    capsys.readouterr()
    assert main([str(a) for a in args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err and err[-1].startswith("error: ")
    return one_line(err[-1].removeprefix("error: "))


def dialog_message(qtbot, dialogs, action) -> str:
    """The text of the error dialog `action()` opens (at once, or when its job fails)."""
    with qtbot.waitSignal(dialogs.errorShown, timeout=WAIT_MS) as blocker:
        action()
    return one_line(blocker.args[0].text())


@pytest.fixture(scope="module")
def performance_model(tmp_path_factory):
    return tiny_model_file(tmp_path_factory.mktemp("p") / "tiny-performance.model", "performance", steps=2)


# (CLI options, change to the app's request)
GENERATE_CASES = {
    "count 0": (["--count", "0"], dict(count=0)),
    "bars with seconds": (["--bars", "4", "--seconds", "8"], dict(bars=4, seconds=8.0)),
    "unknown key": (["--key", "H"], dict(key="H")),
    "bad scale": (["--key", "D", "--scale", "lydian-ish"], dict(key="D", scale="lydian-ish")),
    "top-p 0": (["--top-p", "0"], dict(top_p=0.0)),
    # the Max copy box does not offer 1..3 (test_gui_form): the request can still hold it
    "max copy 2": (["--max-copy", "2"], dict(max_copy=2)),
    "form that does not split": (["--form", "AABB", "--bars", "6"], dict(form="AABB", bars=6)),
}


def test_generate_requests_get_the_same_messages(qtbot, make_window, tiny_melody_model, tmp_path, capsys):
    window = make_window()
    view = window.generate_view
    for name, (options, change) in GENERATE_CASES.items():
        cli = cli_message(capsys, "generate", "--model", tiny_melody_model, "--out", tmp_path / "out", "--quiet",
                          *options)
        app = dialog_message(qtbot, view.dialogs,
                             lambda change=change: view.start_generation(replace(view.controls.request(), **change)))
        assert cli == app, name
        assert view.job is None
    # a form longer than the bars, set in the real controls and started with the real button
    cli = cli_message(capsys, "generate", "--model", tiny_melody_model, "--out", tmp_path / "out", "--quiet",
                      "--bars", "8", "--form", "AABB", "--phrase-bars", "4")
    view.controls.bars.setValue(8)
    view.controls.form_control.form.setCurrentText("AABB")
    view.controls.form_control.phrase_bars.setValue(4)
    app = dialog_message(qtbot, view.dialogs,
                         lambda: qtbot.mouseClick(view.generate_button, Qt.MouseButton.LeftButton))
    assert cli == app and "form AABB of 4-bar phrases is 16 bars, but 8 bars were asked for" in app


def test_model_dependent_rules_get_the_same_messages(qtbot, make_window, performance_model, tiny_melody_model,
                                                     tmp_path, capsys):
    """A time signature for a performance model and a bad primer note are found in the job (they need the model)."""
    window = make_window()
    view = window.generate_view
    view.add_model(performance_model)
    assert view.current_entry().representation == "performance"
    cli = cli_message(capsys, "generate", "--model", performance_model, "--time-signature", "3/4",
                      "--out", tmp_path / "out", "--quiet")
    app = dialog_message(qtbot, view.dialogs, lambda: view.start_generation(
        replace(view.controls.request(), time_signature=(3, 4))))
    assert cli == app and "time signature 3/4 is for melody models" in app
    qtbot.waitUntil(lambda: view.job is None, timeout=WAIT_MS)
    view.add_model(tiny_melody_model)
    cli = cli_message(capsys, "generate", "--model", tiny_melody_model, "--primer", "C4:1 Q9:1",
                      "--out", tmp_path / "out", "--quiet")
    app = dialog_message(qtbot, view.dialogs, lambda: view.start_generation(
        replace(view.controls.request(), primer="C4:1 Q9:1")))
    assert cli == app and "'Q9:1'" in app


def test_a_meter_the_model_does_not_know_gets_the_same_message(qtbot, make_window, tiny_melody_model, tmp_path,
                                                              capsys):
    """Typed into the real time-signature box and started with the real button (refused in the job)."""
    cli = cli_message(capsys, "generate", "--model", tiny_melody_model, "--time-signature", "3/5",
                      "--out", tmp_path / "out", "--quiet", "--bars", "2")
    view = make_window().generate_view
    view.controls.bars.setValue(2)
    view.controls.meter.setCurrentText("3/5")
    app = dialog_message(qtbot, view.dialogs,
                         lambda: qtbot.mouseClick(view.generate_button, Qt.MouseButton.LeftButton))
    assert cli == app and "3/5" in app
    qtbot.waitUntil(lambda: view.job is None, timeout=WAIT_MS)


def test_a_meter_other_than_the_primers_gets_the_same_message_with_the_way_out(qtbot, make_window,
                                                                             tiny_melody_model, tmp_path, capsys):
    primer = write_midi(melody_song(scale_tune()), tmp_path / "primer.mid")       # in 4/4
    cli = cli_message(capsys, "generate", "--model", tiny_melody_model, "--primer", primer, "--time-signature",
                      "6/8", "--out", tmp_path / "out", "--quiet", "--bars", "2")
    view = make_window().generate_view
    view.controls.bars.setValue(2)
    view.controls.meter.setCurrentText("6/8")
    view.set_primer_file(primer)
    app = dialog_message(qtbot, view.dialogs,
                         lambda: qtbot.mouseClick(view.generate_button, Qt.MouseButton.LeftButton))
    assert cli == app and "ask for 4/4" in app           # (named the clash, not what to do)
    qtbot.waitUntil(lambda: view.job is None, timeout=WAIT_MS)


def test_infill_bars_out_of_range_get_the_same_message(qtbot, make_window, tiny_melody_model, tmp_path, capsys):
    song = melody_song(scale_tune())
    path = write_midi(song, tmp_path / "song.mid")
    window = make_window()
    view = window.generate_view
    cli = cli_message(capsys, "infill", tiny_melody_model, path, "--bars", "40-41", "--out", tmp_path / "takes",
                      "--quiet")
    from composer.music.midifile import read_midi
    app = dialog_message(qtbot, view.dialogs, lambda: view.regenerate_selection(read_midi(path), 0, (40, 41)))
    assert cli == app and "are outside the song" in app


def test_eval_with_a_missing_folder_gets_the_same_message(tiny_melody_model, tmp_path, capsys):
    """The app has no evaluation tab: the service call is `evaluate` itself."""
    from composer.errors import ComposerError
    from composer.services.evaluate import EvalConfig, evaluate
    missing = tmp_path / "no-such-folder"
    cli = cli_message(capsys, "eval", tiny_melody_model, missing, "--quiet")
    with pytest.raises(ComposerError) as raised:
        evaluate(EvalConfig(model=str(tiny_melody_model), folder=str(missing)))
    assert cli == one_line(str(raised.value)) and "no such folder" in cli


def test_train_on_an_empty_folder_gets_the_same_message(qtbot, make_window, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    cli = cli_message(capsys, "train", empty, "--out", tmp_path / "cli.model", "--steps", "1", "--workers", "1",
                      "--cache-dir", tmp_path / "cache", "--quiet")
    window = make_window()
    view = window.train_view
    view.folder.setText(str(empty))
    view.name.setText("empty-run")
    view._update_buttons()
    app = dialog_message(qtbot, view.dialogs, lambda: qtbot.mouseClick(view.start_button, Qt.MouseButton.LeftButton))
    assert cli == app and "no usable MIDI files" in app


def test_a_drums_model_as_the_melody_model_gets_the_same_message(qtbot, make_window, tmp_path, capsys):
    from composer.model.modelfile import save_model
    from composer.model.network import ModelConfig, MusicRNN
    from composer.representations.drums import DrumsTokenizer
    tok = DrumsTokenizer()
    network = MusicRNN(ModelConfig(vocab_size=tok.vocab_size, hidden_size=8, embed_dim=4, num_layers=1,
                                   position_classes=tok.position_classes))
    path = save_model(tmp_path / "drums.model", network, tok, {"steps": 0, "corpus": {"name": "none"}})
    view = make_window().generate_view
    view.add_model(path)
    assert view.current_entry().representation == "drums"
    cli = cli_message(capsys, "generate", "--model", path, "--out", tmp_path / "out", "--quiet")
    app = dialog_message(qtbot, view.dialogs, lambda: view.start_generation(view.controls.request()))
    assert cli == app and "is a drums model" in app
    qtbot.waitUntil(lambda: view.job is None, timeout=WAIT_MS)
