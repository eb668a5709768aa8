"""The one place that knows every QSettings key, its type and its default.

Widgets never call `QSettings.value` themselves: they ask `Settings.get(name)`
and get a value of the declared type (a wrong or missing stored value falls
back to the default). Tests pass a `QSettings` on a temporary INI file.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings, QStandardPaths

from composer.services.defaults import APP_COUNT
from composer.services.defaults import DEFAULTS as _GEN
from training.config import MELODY_TRANSPOSE, TrainConfig

_TRAIN = TrainConfig(folder="", out="")     # the app starts from the measured defaults of the train command
# and from the generate command's (composer.services.defaults): one seed, the same music in both

ORGANIZATION = "rnn-composer"
APPLICATION = "RNN Composer Studio"
MAX_RECENT_MODELS = 10
SETTINGS_VERSION = 4
# the app's own generation defaults before they became the command line's: a stored value
# equal to one was almost surely never chosen, so it gives way to today's default
OLD_DEFAULTS = {"generate/top_p": 0.95, "generate/pitch_low": 36, "generate/pitch_high": 96,
                "generate/seconds": 20.0}
# train's defaults before version 4 (docs/defaults.md): stored by the Train form, never chosen
OLD_TRAIN_DEFAULTS = {"train/dropout": 0.4, "train/batch": 16, "train/seq_len": 256, "train/lr": 6e-3}
OLD_PRIMER_KEY = "generate/primer"     # versions before 3 kept the primer's path here


@dataclass(frozen=True)
class Key:
    type: type
    default: Any


KEYS: dict[str, Key] = {
    "settings/version": Key(int, 1),
    # window
    "window/geometry": Key(QByteArray, QByteArray()),
    "window/tab": Key(int, 0),
    # model picker
    "models/last": Key(str, ""),
    "models/recent": Key(list, []),
    # generate view (lengths: bars; seconds for performance models; tempo in bpm)
    "generate/bars": Key(int, _GEN.bars),
    "generate/seconds": Key(float, _GEN.seconds),
    "generate/temperature": Key(float, _GEN.temperature),
    "generate/top_p": Key(float, _GEN.top_p),
    "generate/count": Key(int, APP_COUNT),
    "generate/seed": Key(int, 1),
    "generate/lock_seed": Key(bool, False),   # off: every run draws a new seed
    "generate/key": Key(str, ""),          # "" = no key constraint
    "generate/scale": Key(str, ""),        # "" = no scale constraint; else a composer.music.scales identifier
    "generate/time_signature": Key(str, ""),   # "" = the model's choice; else as typed, e.g. "6/8"
    "generate/pitch_low": Key(int, _GEN.pitch_low),    # MIDI pitch
    "generate/pitch_high": Key(int, _GEN.pitch_high),
    "generate/tempo": Key(float, _GEN.tempo),
    "generate/program": Key(int, _GEN.program),        # General MIDI program 0..127
    "generate/max_copy": Key(int, 0),      # resample variations copying more notes of the training data; 0 = off
    "generate/form": Key(str, _GEN.form),    # auto, free, AABB, AABA, ABAB, ABAC (composer.services.form_plan)
    "generate/phrase_bars": Key(int, 0),   # bars per phrase of a named form; 0 = the length / phrases
    "generate/vary": Key(bool, False),     # second endings of repeated phrases
    "export/folder": Key(str, ""),
    "sound/soundfont": Key(str, ""),       # .sf2 for Play and Export audio; "" = the bundled General MIDI one
    "sound/midi_port": Key(str, ""),       # Play sends to this MIDI output port; "" = the audio output
    # train view
    "train/folder": Key(str, ""),
    "train/name": Key(str, "my-model"),
    "train/representation": Key(str, "melody"),
    "train/cell": Key(str, _TRAIN.cell),
    "train/size": Key(str, "small"),
    "train/layers": Key(int, _TRAIN.layers),
    "train/hidden": Key(int, _TRAIN.hidden),
    "train/embed": Key(int, _TRAIN.embed),
    "train/dropout": Key(float, _TRAIN.dropout),
    "train/batch": Key(int, _TRAIN.batch),
    "train/seq_len": Key(int, _TRAIN.seq_len),
    "train/lr": Key(float, _TRAIN.lr),
    "train/length_unit": Key(str, "steps"),   # "steps" or "epochs"
    "train/steps": Key(int, 2000),
    "train/epochs": Key(float, 20.0),
    "train/val_share": Key(float, _TRAIN.val_share),
    "train/transpose_low": Key(int, MELODY_TRANSPOSE[0]),   # semitones
    "train/transpose_high": Key(int, MELODY_TRANSPOSE[1]),
    "train/strict_midi": Key(bool, _TRAIN.strict_midi),   # skip damaged MIDI files
    "train/auto_size": Key(bool, True),     # transposition chosen for the folder and the length (training/sizing.py)
}


class Settings:
    """Typed access to the app's persistent settings."""

    def __init__(self, qsettings: QSettings | None = None):
        self.qsettings = qsettings or QSettings(ORGANIZATION, APPLICATION)
        version = self.get("settings/version")
        if version < 2:
            self._forget_old_defaults(OLD_DEFAULTS)
        if version < 3:       # the primer is not restored at start any more (it was reused unseen)
            self.qsettings.remove(OLD_PRIMER_KEY)
        if version < 4:
            self._forget_old_defaults(OLD_TRAIN_DEFAULTS)
        if version < SETTINGS_VERSION:
            self.set("settings/version", SETTINGS_VERSION)

    def _forget_old_defaults(self, old_defaults: dict) -> None:
        """A stored value equal to an old default gives way to today's default."""
        for name, old in old_defaults.items():
            if self.qsettings.contains(name) and self.get(name) == old:
                self.qsettings.remove(name)

    @classmethod
    def at_path(cls, path: str | os.PathLike) -> Settings:
        """Settings stored in an INI file at `path` (tests, portable installs)."""
        return cls(QSettings(str(path), QSettings.Format.IniFormat))

    def get(self, name: str) -> Any:
        """The stored value of `name` as its declared type; the default when it
        is missing or cannot be read as that type."""
        key = KEYS[name]
        if not self.qsettings.contains(name):
            return _copy(key.default)
        raw = self.qsettings.value(name)
        try:
            return _convert(raw, key.type)
        except (TypeError, ValueError):
            return _copy(key.default)

    def set(self, name: str, value: Any) -> None:
        key = KEYS[name]
        if key.type is list:
            value = [str(v) for v in value]
        elif key.type is not QByteArray:
            value = key.type(value)
        self.qsettings.setValue(name, value)

    def sync(self) -> None:
        self.qsettings.sync()

    # ---- derived conveniences --------------------------------------------
    def add_recent_model(self, path: str | os.PathLike) -> None:
        text = str(Path(path))
        recent = [p for p in self.get("models/recent") if p != text]
        self.set("models/recent", [text] + recent[:MAX_RECENT_MODELS - 1])


def _convert(raw: Any, wanted: type) -> Any:
    """QSettings gives strings (INI) or native values: convert strictly."""
    if wanted is list:
        if raw is None:
            return []
        if isinstance(raw, str):            # a one-item list comes back as its item
            return [raw]
        if isinstance(raw, (list, tuple)):
            return [str(v) for v in raw]
        raise TypeError(f"expected a list, got {type(raw).__name__}")
    if wanted is QByteArray:
        if isinstance(raw, QByteArray):
            return raw
        raise TypeError(f"expected bytes, got {type(raw).__name__}")
    if wanted is bool:
        if isinstance(raw, bool):
            return raw
        if str(raw).lower() in ("true", "1"):
            return True
        if str(raw).lower() in ("false", "0"):
            return False
        raise ValueError(f"expected true/false, got {raw!r}")
    if wanted is int:
        if isinstance(raw, float) and not raw.is_integer():
            raise ValueError(f"expected a whole number, got {raw!r}")
        return int(raw) if not isinstance(raw, str) else int(raw.strip())
    if wanted in (float, str):
        return wanted(raw)
    raise TypeError(f"unsupported settings type {wanted.__name__}")


def _copy(value):
    return list(value) if isinstance(value, list) else value


def default_user_models_dir() -> Path:
    """Where models trained in the app are saved: <AppDataLocation>/models."""
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(base or Path.home() / ".local" / "share" / APPLICATION) / "models"
