"""The train view's form: model name, representation, cell and size
(presets with the parameter count), length, validation share,
transposition, the advanced settings, the Start / Cancel / Resume buttons;
read from and saved to the settings, and turned into a TrainConfig."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from gui.controls import row_of
from gui.settings import Settings
from training.config import REPRESENTATIONS

# layers, hidden units, embedding size of each preset
SIZE_PRESETS = {"small": (2, 256, 128), "medium": (2, 512, 256), "large": (3, 768, 256)}


def parameter_count(representation: str, cell: str, layers: int, hidden: int, embed: int) -> int:
    """Parameters of the model these settings make (training.config.parameter_count)."""
    from training.config import TrainConfig
    from training.config import parameter_count as count
    return count(TrainConfig(folder="", out="", representation=representation, cell=cell, layers=layers,
                             hidden=hidden, embed=embed))


class TrainForm(QGroupBox):
    """The "Model and training" box. Call `load_settings`, then
    `connect_signals` (so loading the settings does not run the handlers)."""

    def __init__(self, user_models_dir: Path, parent: QWidget | None = None):
        super().__init__("Model and training", parent)
        self.name = QLineEdit()
        self.name.setToolTip(f"The model is saved as NAME.model in {user_models_dir}")
        self.representation = QComboBox()
        self.representation.addItems(list(REPRESENTATIONS))
        self.representation.setToolTip(
            "melody: one line of each file (folk tunes, songs); frames: all parts on a sixteenth-note grid "
            "(chorales, block chords); performance: all parts as one piano performance with its timing and "
            "dynamics (expressive piano)")
        self.cell = QComboBox()
        self.cell.addItem("LSTM", "lstm")
        self.cell.addItem("GRU", "gru")
        self.cell.addItem("Plain RNN (tanh)", "rnn")
        self.size = QComboBox()
        self.size.addItems(list(SIZE_PRESETS) + ["custom"])
        self.size_label = QLabel()
        self.counting = True            # False until torch is loaded (TrainView.finish_loading)
        self.steps = QSpinBox(minimum=1, maximum=1_000_000, singleStep=100, suffix=" steps")
        self.epochs = QDoubleSpinBox(minimum=0.1, maximum=10_000.0, decimals=1, singleStep=1.0, suffix=" epochs")
        self.length_unit = QComboBox()
        self.length_unit.addItems(["steps", "epochs"])
        self.length_unit.setToolTip("Train for a number of optimizer steps, or of passes over the training files")
        self.val_share = QDoubleSpinBox(minimum=0.0, maximum=0.5, singleStep=0.05, decimals=2)
        self.val_share.setToolTip("Share of the files held out to measure validation bits per note")
        self.transpose_low = QSpinBox(minimum=-12, maximum=0, suffix=" st")
        self.transpose_high = QSpinBox(minimum=0, maximum=12, suffix=" st")
        self.auto_size = QCheckBox("Choose the transposition for the folder and the length")
        self.auto_size.setToolTip("Transposition pays when a run sees each note many times; in a short run "
                                  "over a large folder it is turned off (the train command does the same)")
        self.chosen_label = QLabel("")
        self.chosen_label.setWordWrap(True)
        self._build_advanced()
        self.start_button = QPushButton("Start")
        self.cancel_button = QPushButton("Cancel")
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Continue the last run of this model name from its checkpoint")
        self._lay_out()

    def _build_advanced(self) -> None:
        self.layers = QSpinBox(minimum=1, maximum=6)
        self.hidden = QSpinBox(minimum=8, maximum=4096, singleStep=64)
        self.embed = QSpinBox(minimum=8, maximum=2048, singleStep=32)
        self.dropout = QDoubleSpinBox(minimum=0.0, maximum=0.9, singleStep=0.05, decimals=2)
        self.batch = QSpinBox(minimum=1, maximum=1024)
        self.seq_len = QSpinBox(minimum=8, maximum=4096, singleStep=32, suffix=" tokens")
        self.lr = QDoubleSpinBox(minimum=1e-5, maximum=1.0, decimals=5, singleStep=5e-4)
        self.strict_midi = QCheckBox("Skip damaged MIDI files")
        self.strict_midi.setToolTip("Off: a truncated or slightly broken file is used up to where it breaks "
                                    "(the report says what was kept). On: such files are skipped.")

    def _lay_out(self) -> None:
        form = QFormLayout()
        form.addRow("Model name", self.name)
        form.addRow("Representation", self.representation)
        form.addRow("Cell", self.cell)
        form.addRow("Size", row_of(self.size, self.size_label))
        form.addRow("Length", row_of(self.length_unit, self.steps, self.epochs))
        form.addRow("Validation share", self.val_share)
        form.addRow("Transposition", row_of(self.transpose_low, QLabel("to"), self.transpose_high))
        form.addRow("", self.auto_size)
        form.addRow("", self.chosen_label)
        self.show_advanced = QCheckBox("Advanced settings")
        self.advanced = QWidget()
        adv = QFormLayout(self.advanced)
        adv.setContentsMargins(16, 0, 0, 0)
        for label, widget in (("Layers", self.layers), ("Hidden units", self.hidden), ("Embedding", self.embed),
                              ("Dropout", self.dropout), ("Batch", self.batch), ("Chunk length", self.seq_len),
                              ("Learning rate", self.lr)):
            adv.addRow(label, widget)
        adv.addRow("", self.strict_midi)
        self.show_advanced.toggled.connect(self.advanced.setVisible)
        self.advanced.setVisible(False)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.show_advanced)
        layout.addWidget(self.advanced)
        buttons = QHBoxLayout()
        for button in (self.start_button, self.cancel_button, self.resume_button):
            buttons.addWidget(button)
        layout.addLayout(buttons)
        layout.addStretch(1)

    def connect_signals(self) -> None:
        self.size.currentTextChanged.connect(self._apply_preset)
        for spin in (self.layers, self.hidden, self.embed):
            spin.valueChanged.connect(self._on_size_edited)
        self.cell.currentIndexChanged.connect(self.update_size_label)
        self.length_unit.currentTextChanged.connect(self._on_length_unit)
        self.auto_size.toggled.connect(self._on_auto_size)

    # ---- settings -----------------------------------------------------------------------
    def load_settings(self, s: Settings) -> None:
        self.name.setText(s.get("train/name"))
        self.representation.setCurrentText(s.get("train/representation"))
        self.cell.setCurrentIndex(max(0, self.cell.findData(s.get("train/cell"))))
        self.layers.setValue(s.get("train/layers"))
        self.hidden.setValue(s.get("train/hidden"))
        self.embed.setValue(s.get("train/embed"))
        self.size.setCurrentText(s.get("train/size") if s.get("train/size") in SIZE_PRESETS else "custom")
        self.dropout.setValue(s.get("train/dropout"))
        self.batch.setValue(s.get("train/batch"))
        self.seq_len.setValue(s.get("train/seq_len"))
        self.lr.setValue(s.get("train/lr"))
        self.steps.setValue(s.get("train/steps"))
        self.epochs.setValue(s.get("train/epochs"))
        self.length_unit.setCurrentText(s.get("train/length_unit"))
        self._on_length_unit()
        self.val_share.setValue(s.get("train/val_share"))
        self.transpose_low.setValue(s.get("train/transpose_low"))
        self.transpose_high.setValue(s.get("train/transpose_high"))
        self.strict_midi.setChecked(s.get("train/strict_midi"))
        self.auto_size.setChecked(s.get("train/auto_size"))
        self._on_auto_size()

    def save_settings(self, s: Settings) -> None:
        s.set("train/name", self.name.text())
        s.set("train/representation", self.representation.currentText())
        s.set("train/cell", self.cell.currentData())
        s.set("train/size", self.size.currentText())
        s.set("train/length_unit", self.length_unit.currentText())
        for key, spin in (("layers", self.layers), ("hidden", self.hidden), ("embed", self.embed),
                          ("dropout", self.dropout), ("batch", self.batch), ("seq_len", self.seq_len),
                          ("lr", self.lr), ("steps", self.steps), ("epochs", self.epochs),
                          ("val_share", self.val_share),
                          ("transpose_low", self.transpose_low), ("transpose_high", self.transpose_high)):
            s.set(f"train/{key}", spin.value())
        s.set("train/strict_midi", self.strict_midi.isChecked())
        s.set("train/auto_size", self.auto_size.isChecked())

    # ---- size and length ------------------------------------------------------------------
    def _apply_preset(self, name: str) -> None:
        if name not in SIZE_PRESETS:
            return
        layers, hidden, embed = SIZE_PRESETS[name]
        for spin, value in ((self.layers, layers), (self.hidden, hidden), (self.embed, embed)):
            spin.blockSignals(True)
            spin.setValue(value)
            spin.blockSignals(False)
        self.update_size_label()

    def _on_size_edited(self) -> None:
        preset = next((n for n, v in SIZE_PRESETS.items()
                       if v == (self.layers.value(), self.hidden.value(), self.embed.value())), "custom")
        self.size.blockSignals(True)
        self.size.setCurrentText(preset)
        self.size.blockSignals(False)
        self.update_size_label()

    def update_size_label(self) -> None:
        if not self.counting:           # counting builds the network: it waits for torch (gui/startup.py)
            self.size_label.setText(f"{self.layers.value()}x{self.hidden.value()}, counting parameters...")
            return
        count = parameter_count(self.representation.currentText(), self.cell.currentData(), self.layers.value(),
                                self.hidden.value(), self.embed.value())
        self.size_label.setText(f"{self.layers.value()}x{self.hidden.value()}, {count / 1e6:.2f}M parameters")

    def _on_length_unit(self) -> None:
        by_steps = self.length_unit.currentText() == "steps"
        self.steps.setVisible(by_steps)
        self.epochs.setVisible(not by_steps)

    def _on_auto_size(self) -> None:
        auto = self.auto_size.isChecked()
        for widget in (self.transpose_low, self.transpose_high):
            widget.setEnabled(not auto)
        self.chosen_label.setVisible(auto)

    def show_chosen(self, lines) -> None:
        """What training.sizing chose for the scanned folder (shown while the choice is on)."""
        self.chosen_label.setText("\n".join(lines))

    # ---- the request ----------------------------------------------------------------------
    def config(self, config_class, *, folder: str, out: Path, resume: bool = False, force: bool = False):
        """The `config_class` (training.config.TrainConfig) of these settings for `folder`, writing `out`."""
        auto = self.auto_size.isChecked()
        transpose = None if auto else (self.transpose_low.value(), self.transpose_high.value())
        by_steps = self.length_unit.currentText() == "steps"
        steps = self.steps.value() if by_steps else None
        return config_class(
            folder=folder, out=str(out),
            representation=self.representation.currentText(), cell=self.cell.currentData(),
            layers=self.layers.value(), hidden=self.hidden.value(), embed=self.embed.value(),
            dropout=self.dropout.value(), steps=steps,
            epochs=None if by_steps else self.epochs.value(),
            batch=self.batch.value(), seq_len=self.seq_len.value(), lr=self.lr.value(),
            val_share=self.val_share.value(), transpose=transpose,
            # short runs: ten validation points for the curves; else the trainer's auto interval
            eval_every=max(1, self.steps.value() // 10) if by_steps and self.steps.value() < 500 else None,
            checkpoint_every=max(1, min(200, self.steps.value() // 5)) if by_steps else 200,
            strict_midi=self.strict_midi.isChecked(), resume=resume, force=force)
