"""The generation controls: length, form, sampling, seed, key/scale, time
signature, pitch range, tempo, instrument, copy limit and primer. They build a `GenerateRequest` and persist
themselves through `Settings`."""
from __future__ import annotations

import random
from dataclasses import replace
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QToolButton,
    QWidget,
)

from composer.errors import ComposerError
from composer.model.copyindex import DEFAULT_ANCHOR
from composer.music.scales import KEY_NAMES, SCALES, scale_title, spell
from composer.music.song import parse_time_signature
from composer.services.primer import parse_note_list
from gui.form_controls import FormControl
from gui.settings import Settings

if TYPE_CHECKING:
    from composer.services.generate import GenerateRequest

ANY = "any"
MODEL_METER = "model's choice"
COMMON_METERS = ["2/4", "3/4", "4/4", "6/8", "9/8", "12/8", "2/2", "3/8", "5/4"]
MAX_SEED = 2**31 - 1


def draw_seed() -> int:
    return random.SystemRandom().randrange(MAX_SEED)


def instrument_names() -> list[str]:
    """The 128 General MIDI program names (pretty_midi's table)."""
    from pretty_midi.constants import INSTRUMENT_MAP
    return list(INSTRUMENT_MAP)


class PitchSpinBox(QSpinBox):
    """A MIDI pitch shown as 'C4 (60)', spelled for the key given to `set_key`
    (as the roll spells it); accepts a name in either spelling (F#5, Gb5) or a number."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.key: tuple[str | None, str | None] = (None, None)
        self.setRange(0, 127)

    def set_key(self, key: str | None, scale: str | None = None) -> None:
        self.key = (key, scale)
        self.lineEdit().setText(self.textFromValue(self.value()))

    def textFromValue(self, value: int) -> str:
        return f"{spell(value, *self.key)} ({value})"

    def valueFromText(self, text: str) -> int:
        return self._parse(text) if self._parse(text) is not None else self.value()

    def validate(self, text: str, pos: int):
        state = QValidator.State.Acceptable if self._parse(text) is not None else QValidator.State.Intermediate
        return state, text, pos

    @staticmethod
    def _parse(text: str) -> int | None:
        word = text.split("(")[0].strip()
        try:
            pitch = parse_note_list(word)[0].pitch
        except (ComposerError, IndexError):
            return None
        return pitch if 0 <= pitch <= 127 else None


class CopyLimitSpinBox(QSpinBox):
    """0 (off), then DEFAULT_ANCHOR notes upward: the service refuses shorter limits
    (shorter shared runs are not counted), so the box does not offer them."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setRange(0, 256)
        self.setSuffix(" notes")
        self.setSpecialValueText("off")

    def setValue(self, value: int) -> None:
        super().setValue(DEFAULT_ANCHOR if 0 < value < DEFAULT_ANCHOR else value)

    def stepBy(self, steps: int) -> None:
        value = self.value() + steps
        if 0 < value < DEFAULT_ANCHOR:
            value = DEFAULT_ANCHOR if steps > 0 else 0
        self.setValue(max(self.minimum(), min(self.maximum(), value)))

    def validate(self, text: str, pos: int):
        state, text, pos = super().validate(text, pos)
        if state == QValidator.State.Acceptable and 0 < self.valueFromText(text) < DEFAULT_ANCHOR:
            state = QValidator.State.Intermediate        # (typing 1 of 16 goes on)
        return state, text, pos


class GenerateControls(QWidget):
    """The form; `request()` turns it into a GenerateRequest (primer excluded)."""

    primerOpenRequested = Signal()
    primerClearRequested = Signal()
    keyChanged = Signal(object, object)      # (key, scale identifier), None for any: the roll spells for it

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.kind = "melody"
        form = self.form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)

        self.bars = QSpinBox(minimum=1, maximum=256, suffix=" bars")
        self.bars.setToolTip("How many new bars to generate")
        self.seconds = QDoubleSpinBox(minimum=1.0, maximum=600.0, decimals=1, singleStep=5.0, suffix=" s")
        self.seconds.setToolTip("Length of the new music in seconds (polyphonic models)")
        self.temperature = QDoubleSpinBox(minimum=0.05, maximum=3.0, singleStep=0.05, decimals=2)
        self.temperature.setToolTip("Randomness: < 1 safer, > 1 wilder")
        self.top_p = QDoubleSpinBox(minimum=0.05, maximum=1.0, singleStep=0.05, decimals=2)
        self.top_p.setToolTip("Nucleus sampling: keep the likeliest tokens up to this probability mass (1 = off)")
        self.count = QSpinBox(minimum=1, maximum=16)
        self.count.setToolTip("How many variations to generate at once")
        self._make_seed()
        self._make_key_and_meter()
        self.pitch_low = PitchSpinBox()
        self.pitch_high = PitchSpinBox()
        for box in (self.pitch_low, self.pitch_high):
            self.keyChanged.connect(box.set_key)
        self.tempo = QDoubleSpinBox(minimum=20.0, maximum=300.0, decimals=0, singleStep=5.0, suffix=" bpm")
        self.instrument = QComboBox()
        self.instrument.addItems([f"{i}: {name}" for i, name in enumerate(instrument_names())])
        self.instrument.setMaxVisibleItems(20)
        self.primer_label = QLabel("none")
        self.primer_label.setWordWrap(True)
        self.primer_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.primer_open = QPushButton("Open primer...")
        self.primer_open.setToolTip("A .mid file to continue (or drop one on the window)")
        self.primer_open.clicked.connect(self.primerOpenRequested)
        self.primer_clear = QPushButton("Clear")
        self.primer_clear.clicked.connect(self.primerClearRequested)
        self.max_copy = CopyLimitSpinBox()
        self.form_control = FormControl()
        self.set_copy_index(True)

        form.addRow("Length", self.bars)
        form.addRow("Length", self.seconds)
        form.addRow("Form", self.form_control)
        form.addRow("Temperature", self.temperature)
        form.addRow("Top-p", self.top_p)
        form.addRow("Variations", self.count)
        form.addRow("Seed", row_of(self.seed, self.lock_seed, self.new_seed_button))
        form.addRow("Key", row_of(self.key, self.scale))
        form.addRow("Meter", self.meter)
        form.addRow("Pitch range", row_of(self.pitch_low, QLabel("to"), self.pitch_high))
        form.addRow("Tempo", self.tempo)
        form.addRow("Instrument", self.instrument)
        form.addRow("Max copy", self.max_copy)
        form.addRow("Primer", row_of(self.primer_open, self.primer_clear))
        form.addRow("", self.primer_label)
        self.set_kind("melody")

    def _make_key_and_meter(self) -> None:
        """The key and scale boxes and the time signature's."""
        self.key = QComboBox()
        self.key.addItems([ANY] + KEY_NAMES)
        self.scale = QComboBox()        # the words shown, the service's identifier as item data
        self.scale.addItem(ANY, None)
        for name in SCALES:
            self.scale.addItem(scale_title(name), name)
        self.key.currentIndexChanged.connect(lambda: self.keyChanged.emit(*self.key_and_scale()))
        self.scale.currentIndexChanged.connect(lambda: self.keyChanged.emit(*self.key_and_scale()))
        self.meter = QComboBox(editable=True)
        self.meter.addItems([MODEL_METER] + COMMON_METERS)
        self.meter.setToolTip("The time signature of new music (melody models): the model's choice, "
                              "or pick or type one such as 7/8 (a meter the model does not know is refused)")
        self.meter.setAccessibleName("Time signature")

    def _make_seed(self) -> None:
        """The seed box, its lock and New."""
        self.seed = QSpinBox(minimum=0, maximum=MAX_SEED)
        self.seed.setToolTip("The seed of the last run: same seed and settings give the same music")
        self.lock_seed = QCheckBox("Lock")
        self.lock_seed.setToolTip("Off: every Generate, Continue or Regenerate draws a new seed and shows it here. "
                                  "On: the seed in the box is used again, to make a result again")
        self.lock_seed.setAccessibleName("Lock seed")
        self.new_seed_button = QToolButton()
        self.new_seed_button.setText("New")
        self.new_seed_button.setToolTip("Draw a new seed now")
        self.new_seed_button.clicked.connect(self.new_seed)

    def set_kind(self, kind: str) -> None:
        """Show bars for the grid models (melody, frames), seconds for performance models."""
        self.kind = kind
        self.form.setRowVisible(self.bars, kind != "performance")
        self.form.setRowVisible(self.seconds, kind == "performance")
        self.form.setRowVisible(self.meter, kind != "performance")     # performance models have no meter
        self.form_control.set_kind(kind)

    def set_copy_index(self, available: bool) -> None:
        """Offer the copy limit only for a model file that holds its training data's copy index."""
        self.max_copy.setEnabled(available)
        self.max_copy.setToolTip(
            "Sample again (up to 4 tries) each variation that shares more than this many consecutive notes "
            "with the model's training data; off keeps every variation" if available else
            "This model file holds no index of its training data (add one with: composer copy-index MODEL FOLDER)")

    def copy_limit(self) -> int | None:
        """The copy limit in notes, None when off or not available for this model."""
        return (self.max_copy.value() or None) if self.max_copy.isEnabled() else None

    def new_seed(self) -> None:
        self.seed.setValue(draw_seed())

    def run_request(self) -> GenerateRequest:
        """The request of a new run: with the seed unlocked, a new seed. The box shows
        it once the run starts (`started`): a refused run leaves the box alone."""
        request = self.request()
        if self.lock_seed.isChecked():
            return request
        return replace(request, seed=draw_seed())

    def started(self, seed: int, settings: Settings) -> None:
        """A run with `seed` starts: the box shows its seed; the controls are kept."""
        self.seed.setValue(seed)
        self.save(settings)

    def follow(self, seed: int | None) -> None:
        """An unlocked box shows the seed of the list in view, so Lock makes it again."""
        if seed is not None and not self.lock_seed.isChecked():
            self.seed.setValue(seed)

    def request(self) -> GenerateRequest:
        """The request the controls describe, not validated (the service's
        GenerateRequest.validate holds the rules, for the CLI and the app alike)."""
        from composer.services.generate import GenerateRequest  # (imports torch: not before the window shows)
        low, high = self.pitch_low.value(), self.pitch_high.value()
        grid = self.kind != "performance"
        return GenerateRequest(
            count=self.count.value(), bars=self.bars.value() if grid else None,
            seconds=None if grid else self.seconds.value(), temperature=self.temperature.value(),
            top_p=self.top_p.value(), seed=self.seed.value(),
            key=self.key_and_scale()[0], scale=self.scale.currentData(), time_signature=self.time_signature(),
            pitch_low=low, pitch_high=high, tempo=self.tempo.value(), program=self.instrument.currentIndex(),
            max_copy=self.copy_limit(), **self.form_control.request_fields())

    def key_and_scale(self) -> tuple[str | None, str | None]:
        """The key name and scale identifier chosen, None for any."""
        key = self.key.currentText()
        return (None if key == ANY else key), self.scale.currentData()

    def time_signature(self) -> tuple[int, int] | None:
        """The meter typed or picked, None for the model's choice (and for
        performance models); raises ComposerError for text that is no N/D."""
        text = self.meter.currentText().strip()
        if self.kind == "performance" or text in ("", MODEL_METER):
            return None
        return parse_time_signature(text)

    # ---- persistence ------------------------------------------------------------
    def load(self, settings: Settings) -> None:
        self.bars.setValue(settings.get("generate/bars"))
        self.seconds.setValue(settings.get("generate/seconds"))
        self.temperature.setValue(settings.get("generate/temperature"))
        self.top_p.setValue(settings.get("generate/top_p"))
        self.count.setValue(settings.get("generate/count"))
        self.seed.setValue(min(MAX_SEED, max(0, settings.get("generate/seed"))))
        self.lock_seed.setChecked(settings.get("generate/lock_seed"))
        _select(self.key, settings.get("generate/key") or ANY)
        self.scale.setCurrentIndex(max(0, self.scale.findData(settings.get("generate/scale") or None)))
        self.meter.setCurrentText(settings.get("generate/time_signature") or MODEL_METER)
        self.pitch_low.setValue(settings.get("generate/pitch_low"))
        self.pitch_high.setValue(settings.get("generate/pitch_high"))
        self.tempo.setValue(settings.get("generate/tempo"))
        self.instrument.setCurrentIndex(min(127, max(0, settings.get("generate/program"))))
        self.max_copy.setValue(min(256, max(0, settings.get("generate/max_copy"))))
        self.form_control.load(settings)

    def save(self, settings: Settings) -> None:
        settings.set("generate/bars", self.bars.value())
        settings.set("generate/seconds", self.seconds.value())
        settings.set("generate/temperature", self.temperature.value())
        settings.set("generate/top_p", self.top_p.value())
        settings.set("generate/count", self.count.value())
        settings.set("generate/seed", self.seed.value())
        settings.set("generate/lock_seed", self.lock_seed.isChecked())
        settings.set("generate/key", "" if self.key.currentText() == ANY else self.key.currentText())
        settings.set("generate/scale", self.scale.currentData() or "")
        meter = self.meter.currentText().strip()
        settings.set("generate/time_signature", "" if meter == MODEL_METER else meter)
        settings.set("generate/pitch_low", self.pitch_low.value())
        settings.set("generate/pitch_high", self.pitch_high.value())
        settings.set("generate/tempo", self.tempo.value())
        settings.set("generate/program", self.instrument.currentIndex())
        settings.set("generate/max_copy", self.max_copy.value())
        self.form_control.save(settings)


def row_of(*widgets: QWidget) -> QWidget:
    """The widgets side by side, without margins (one row of a form)."""
    box = QWidget()
    layout = QHBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        layout.addWidget(widget)
    return box


def _select(combo: QComboBox, text: str) -> None:
    index = combo.findText(text)
    combo.setCurrentIndex(max(0, index))
