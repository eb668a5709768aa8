"""Settings survive a restart; the typed settings module; the model picker."""
from __future__ import annotations

from gui.catalog import discover
from gui.settings import KEYS, Settings


def test_every_control_round_trips_through_a_restart(qtbot, make_window, gui_settings, tiny_melody_model, tmp_path):
    window = make_window()
    c = window.generate_view.controls
    c.bars.setValue(5)
    c.temperature.setValue(0.7)
    c.top_p.setValue(0.8)
    c.count.setValue(3)
    c.seed.setValue(4242)
    c.key.setCurrentText("D")
    c.scale.setCurrentText("harmonic minor")
    c.meter.setCurrentText("7/8")
    c.pitch_low.setValue(50)
    c.pitch_high.setValue(80)
    c.tempo.setValue(100)
    c.instrument.setCurrentIndex(73)
    c.max_copy.setValue(12)
    c.form_control.form.setCurrentText("AABA")
    c.form_control.phrase_bars.setValue(3)
    c.form_control.vary.setChecked(True)
    t = window.train_view
    t.folder.setText(str(tmp_path))
    t.name.setText("folk")
    t.representation.setCurrentText("performance")
    t.cell.setCurrentIndex(t.cell.findData("gru"))
    t.size.setCurrentText("medium")
    t.steps.setValue(1234)
    t.length_unit.setCurrentText("epochs")
    t.epochs.setValue(3.5)
    t.val_share.setValue(0.15)
    t.form.auto_size.setChecked(False)          # the user's own transposition
    t.transpose_low.setValue(-5)
    t.transpose_high.setValue(6)
    window.tabs.setCurrentIndex(1)
    window.close()

    again = make_window(settings=Settings.at_path(tmp_path / "settings.ini"))
    c = again.generate_view.controls
    assert (c.bars.value(), c.temperature.value(), c.top_p.value(), c.count.value(), c.seed.value()) == \
        (5, 0.7, 0.8, 3, 4242)
    assert (c.key.currentText(), c.scale.currentText(), c.meter.currentText()) == ("D", "harmonic minor", "7/8")
    assert (c.request().scale, c.request().time_signature) == ("harmonic_minor", (7, 8))
    assert (c.pitch_low.value(), c.pitch_high.value(), c.tempo.value(), c.instrument.currentIndex()) == \
        (50, 80, 100, 73)
    f = c.form_control
    assert (c.max_copy.value(), f.form.currentText(), f.phrase_bars.value(), f.vary.isChecked()) == \
        (12, "AABA", 3, True)
    assert c.request().form == "AABA" and c.request().phrase_bars == 3 and c.request().vary
    t = again.train_view
    assert (t.folder.text(), t.name.text(), t.representation.currentText(), t.cell.currentData()) == \
        (str(tmp_path), "folk", "performance", "gru")
    assert (t.size.currentText(), t.layers.value(), t.hidden.value()) == ("medium", 2, 512)
    assert (t.steps.value(), t.val_share.value(), t.transpose_low.value(), t.transpose_high.value()) == \
        (1234, 0.15, -5, 6)
    assert (t.length_unit.currentText(), t.epochs.value()) == ("epochs", 3.5)
    assert not t.form.auto_size.isChecked()
    assert t.epochs.isVisibleTo(again) and not t.steps.isVisibleTo(again)
    config = t.config()
    assert (config.epochs, config.steps, config.cell, config.transpose) == (3.5, None, "gru", (-5, 6))
    assert again.tabs.currentIndex() == 1
    assert again.generate_view.current_entry().path == tiny_melody_model


def test_settings_read_with_type_and_default(tmp_path):
    settings = Settings.at_path(tmp_path / "s.ini")
    assert settings.get("generate/bars") == KEYS["generate/bars"].default
    settings.qsettings.setValue("generate/bars", "not a number")
    assert settings.get("generate/bars") == KEYS["generate/bars"].default
    settings.set("generate/temperature", 0.5)
    settings.sync()
    assert Settings.at_path(tmp_path / "s.ini").get("generate/temperature") == 0.5
    settings.set("models/recent", ["only.model"])      # INI gives a one-item list back as a string
    assert Settings.at_path(tmp_path / "s.ini").get("models/recent") == ["only.model"]
    for i in range(15):
        settings.add_recent_model(tmp_path / f"m{i}.model")
    recent = settings.get("models/recent")
    assert len(recent) == 10 and recent[0].endswith("m14.model")


def test_picker_lists_trained_and_recent_models_and_marks_broken_files(tmp_path, tiny_melody_model):
    user = tmp_path / "user"
    user.mkdir()
    trained = user / "mine.model"
    trained.write_bytes(tiny_melody_model.read_bytes())
    broken = tmp_path / "broken.model"
    broken.write_bytes(b"\x00" * 64)
    entries = discover(user, [str(tiny_melody_model), str(broken), str(tmp_path / "gone.model")],
                       assets_dir=tmp_path / "no-assets")
    assert [(e.name, e.origin) for e in entries] == [("mine", "trained"), ("tiny-melody", "recent"),
                                                    ("broken", "recent")]
    mine = entries[0]
    assert (mine.representation, mine.cell, mine.layers, mine.hidden) == ("melody", "LSTM", 1, 48)
    assert "tiny test tunes" in mine.description() and "M parameters" in mine.description()
    from composer.model.modelfile import load_model
    assert mine.parameters == load_model(trained).model.num_parameters()
    assert not entries[2].usable and "broken.model" in entries[2].error


def test_a_broken_model_cannot_be_used_to_generate(qtbot, make_window, gui_settings, tmp_path):
    broken = tmp_path / "broken.model"
    broken.write_bytes(b"PK\x03\x04 a zip, not a model")
    window = make_window()
    view = window.generate_view
    view.add_model(broken)
    assert view.current_entry().path == broken
    assert "Cannot use this file" in view.model_info.text()
    assert not view.generate_button.isEnabled()


def test_open_model_item_adds_the_file_or_keeps_the_selection(qtbot, make_window, tiny_melody_model, tmp_path):
    window = make_window()
    view = window.generate_view
    combo = view.model_combo
    open_item = combo.count() - 1
    window.dialogs.open_file = lambda caption, folder, file_filter: None       # the user cancels
    combo.setCurrentIndex(open_item)
    combo.activated.emit(open_item)
    assert view.current_entry().path == tiny_melody_model
    other = tmp_path / "second.model"
    other.write_bytes(tiny_melody_model.read_bytes())
    window.dialogs.open_file = lambda caption, folder, file_filter: str(other)
    open_item = combo.count() - 1
    combo.setCurrentIndex(open_item)
    combo.activated.emit(open_item)
    assert view.current_entry().path == other
    assert window.settings.get("models/recent")[0] == str(other)
    assert view.generate_button.isEnabled()


def test_picker_shows_the_validation_score_so_models_compare(tmp_path, tiny_melody_model):
    from composer.model.modelfile import load_model, save_model
    from gui.catalog import describe
    loaded = load_model(tiny_melody_model)
    scored = save_model(tmp_path / "gru.model", loaded.model, loaded.tokenizer,
                        {"corpus": {"name": "my reels", "val_files": 7}, "val_bits_per_note": 3.456})
    entry = describe(scored, "trained")
    assert entry.val_bits_per_note == 3.456 and "3.46 bits/note on 7 held-out file(s)" in entry.description()
    assert describe(tiny_melody_model, "recent").val_bits_per_note is None     # never validated: nothing shown
    assert "bits/note" not in describe(tiny_melody_model, "recent").description()


def test_the_training_tab_starts_from_the_train_commands_defaults(gui_settings):
    from training.config import MELODY_TRANSPOSE, TrainConfig
    d = TrainConfig(folder="", out="")
    s = gui_settings
    assert (s.get("train/layers"), s.get("train/hidden"), s.get("train/embed"), s.get("train/dropout"),
            s.get("train/batch"), s.get("train/seq_len"), s.get("train/lr"), s.get("train/cell")) == \
        (d.layers, d.hidden, d.embed, d.dropout, d.batch, d.seq_len, d.lr, d.cell)
    assert (s.get("train/transpose_low"), s.get("train/transpose_high")) == MELODY_TRANSPOSE
