"""The generate tab's model picker: the models of gui/catalog.py in a combo
box, "Open model file...", and what the picked model's metadata says."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from composer.errors import ComposerError
from gui.catalog import ModelEntry, discover, preferred_index
from gui.dialogs import MODEL_FILTER

OPEN_MODEL_ITEM = "Open model file..."


class ModelPicking:
    """The model picker methods of GenerateView (it owns model_combo,
    model_info, controls, settings, dialogs, entries, tokenizer)."""

    def refresh_models(self, select: str | Path | None = None, entries: list[ModelEntry] | None = None) -> None:
        """Re-read the model folders (or take `entries`, read on a worker); select `select` (a path) if given."""
        current = str(select) if select else (str(self.current_entry().path) if self.current_entry() else "")
        self.loading = False
        self.entries = entries if entries is not None else discover(self.user_models_dir,
                                                                   self.settings.get("models/recent"))
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        for entry in self.entries:
            self.model_combo.addItem(entry.label(), str(entry.path))
            self.model_combo.setItemData(self.model_combo.count() - 1, entry.description(), Qt.ItemDataRole.ToolTipRole)
        self.model_combo.addItem(OPEN_MODEL_ITEM, None)
        index = preferred_index(self.entries, current)
        self.model_combo.setCurrentIndex(index if index >= 0 else self.model_combo.count() - 1)
        self.model_combo.blockSignals(False)
        self.results.arrange.set_models(self.entries)
        self._on_model_changed(self.model_combo.currentIndex())

    def show_loading(self) -> None:
        """Before the worker of gui/startup.py is done: the picker says so and Generate waits."""
        self.loading = True
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        self.model_combo.addItem("Loading models...", None)
        self.model_combo.blockSignals(False)
        self.model_info.setText("Loading the models...")
        self._update_buttons()

    def current_entry(self) -> ModelEntry | None:
        index = self.model_combo.currentIndex() if hasattr(self, "model_combo") else -1
        return self.entries[index] if 0 <= index < len(self.entries) else None

    def add_model(self, path: str | Path, *, recent: bool = True) -> None:
        """Offer `path` in the picker and select it (a trained or opened model)."""
        if recent:
            self.settings.add_recent_model(path)
        self.refresh_models(select=path)

    def open_model(self) -> None:
        folder = str(Path(self.settings.get("models/last")).parent) if self.settings.get("models/last") else ""
        path = self.dialogs.open_file("Open model file", folder, MODEL_FILTER)
        if path:
            self.add_model(path)

    def _on_model_activated(self, index: int) -> None:
        if index == len(self.entries):       # the "Open model file..." item
            self.open_model()
            if self.model_combo.currentIndex() == len(self.entries) and self.entries:
                self.model_combo.setCurrentIndex(min(self._previous_index, len(self.entries) - 1))

    def _on_model_changed(self, index: int) -> None:
        entry = self.current_entry()
        self.tokenizer = None
        if self._refused and self.job is None:    # a refusal of the model before is no longer true
            self.message.setText("")
            self._refused = False
        if entry is not None:
            self._previous_index = index
        if entry is None:
            self.model_info.setText("No model yet: open a model file or train one in the Train tab.")
        elif not entry.usable:
            self.model_info.setText(f"Cannot use this file: {entry.error}")
        else:
            self.model_info.setText(entry.description())
            self.model_info.setToolTip(str(entry.path))
            from composer.model.modelfile import read_metadata  # (torch: loaded behind the window)
            from composer.representations.registry import tokenizer_from_config
            copy_index = False
            try:
                meta = read_metadata(entry.path)
                rep = meta["representation"]
                self.tokenizer = tokenizer_from_config(rep["kind"], rep["config"])
                copy_index = bool(meta.get("copy_index"))
            except (ComposerError, KeyError, TypeError, ValueError) as exc:
                self.model_info.setText(f"Cannot use this file: {exc}")
            self.controls.set_kind(entry.representation)
            self.controls.set_copy_index(copy_index)
            self.settings.set("models/last", str(entry.path))
        self._update_primer_label()
        self._update_buttons()
