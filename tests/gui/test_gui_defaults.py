"""The app and the CLI start from the same generation settings
(composer.services.defaults): one seed gives the same music from either."""
from __future__ import annotations

import dataclasses

from PySide6.QtCore import Qt

from composer.cli.main import build_parser, generate_request, main
from composer.music.midifile import read_midi
from composer.services.defaults import DEFAULTS

NOT_SETTINGS = {"primer", "keep_primer", "batch_size", "copy_folder"}    # inputs and machinery, not defaults


def _settings(request) -> dict:
    request.validate()
    out = {k: v for k, v in dataclasses.asdict(request).items() if k not in NOT_SETTINGS}
    if out["bars"] is None and out["seconds"] is None:      # the service's rule: DEFAULTS.bars
        out["bars"] = DEFAULTS.bars
    return out


def test_the_apps_default_request_is_the_clis(make_window):
    app = make_window().generate_view.controls.request()
    cli = generate_request(build_parser().parse_args(["generate", "--seed", str(app.seed),
                                                      "--count", str(app.count)]))
    assert _settings(app) == _settings(cli)          # (top-p was 0.95 in the app, off in the CLI)


def test_one_seed_gives_the_same_music_from_the_app_and_the_cli(qtbot, make_window, tiny_melody_model, tmp_path):
    window = make_window()
    view = window.generate_view
    view.controls.count.setValue(2)
    qtbot.mouseClick(view.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.job is None, timeout=60_000)
    seed = view.controls.seed.value()
    assert main(["generate", "--model", str(tiny_melody_model), "--seed", str(seed), "--count", "2",
                 "--out", str(tmp_path / "songs"), "--quiet"]) == 0
    files = sorted((tmp_path / "songs").glob("*.mid"))
    assert len(files) == 2
    for song, path in zip(view.results.variations.songs, files):
        written = [(round(n.start, 3), round(n.end, 3), n.pitch) for n in read_midi(path).notes]
        assert written and written == [(round(n.start, 3), round(n.end, 3), n.pitch) for n in song.notes]


def test_settings_saved_with_the_apps_old_defaults_take_the_new_ones(tmp_path):
    """Every control is saved on Generate, so old settings files hold the old defaults
    (top-p 0.95, pitches 36..96) though the user never chose them; a chosen value stays."""
    from PySide6.QtCore import QSettings

    from gui.settings import Settings
    path = tmp_path / "old.ini"
    old = QSettings(str(path), QSettings.Format.IniFormat)
    for name, value in (("generate/top_p", 0.95), ("generate/pitch_low", 36), ("generate/pitch_high", 84),
                        ("generate/temperature", 0.9)):
        old.setValue(name, value)
    old.sync()
    settings = Settings.at_path(path)
    assert settings.get("generate/top_p") == DEFAULTS.top_p == 0.95       # (the same value as the old one)
    assert settings.get("generate/pitch_low") == DEFAULTS.pitch_low
    assert settings.get("generate/pitch_high") == 84 and settings.get("generate/temperature") == 0.9
    settings.set("generate/pitch_low", 36)               # chosen now: kept from here on
    assert Settings.at_path(path).get("generate/pitch_low") == 36


def test_train_values_saved_with_the_old_train_defaults_take_the_new_ones(tmp_path):
    """The Train form saved dropout 0.4, batch 16 x 256 and lr 6e-3 before train's defaults changed."""
    from PySide6.QtCore import QSettings

    from gui.settings import Settings
    from training.config import TrainConfig
    path = tmp_path / "v3.ini"
    old = QSettings(str(path), QSettings.Format.IniFormat)
    for name, value in (("settings/version", 3), ("train/dropout", 0.4), ("train/batch", 16),
                        ("train/seq_len", 256), ("train/lr", 6e-3), ("train/hidden", 384)):
        old.setValue(name, value)
    old.sync()
    settings, d = Settings.at_path(path), TrainConfig(folder="", out="")
    assert (settings.get("train/dropout"), settings.get("train/batch"), settings.get("train/seq_len"),
            settings.get("train/lr")) == (d.dropout, d.batch, d.seq_len, d.lr) == (0.3, 32, 128, 3e-3)
    assert settings.get("train/hidden") == 384                                   # chosen: kept
    settings.set("train/batch", 16)                                              # chosen now: kept
    assert Settings.at_path(path).get("train/batch") == 16
