"""The generate view's primer: opened, dropped or a variation (Continue),
shown with its name and length, and cleared. It is never saved in the
settings: after a restart Generate starts from scratch until a primer is
chosen again (one restored unseen made new pieces continue an old file)."""
from __future__ import annotations

from pathlib import Path

from composer.errors import ComposerError
from composer.music.midifile import read_midi
from composer.music.song import Song
from composer.paths import shown
from composer.services.primer import describe_primer
from gui.dialogs import MIDI_FILTER
from gui.primer import bar_count
from gui.results.history import PrimerState

NO_PRIMER = "none: the model starts from scratch"


def primer_length(song: Song, kind: str) -> str:
    """How long a primer is, in the unit of the model's length control."""
    if kind == "performance":
        return f"{song.duration_seconds:.1f} s"
    bars = bar_count(song)
    return f"{bars} bar" if bars == 1 else f"{bars} bars"


class PrimerChoice:
    """Mixed into GenerateView (it owns primer, primer_path, primer_name,
    controls, tokenizer, settings, dialogs)."""

    def open_primer(self) -> None:
        folder = str(Path(self.primer_path).parent) if self.primer_path else self.settings.get("train/folder")
        path = self.dialogs.open_file("Open primer", folder, MIDI_FILTER)
        if path:
            self.set_primer_file(path)

    def set_primer_file(self, path: str | Path, *, quiet: bool = False) -> bool:
        """Read a .mid primer; an unreadable file is reported and ignored."""
        try:
            song = read_midi(path)
        except ComposerError as exc:
            if not quiet:
                self.dialogs.error("Cannot use this primer", str(exc))
            return False
        self.restore_primer(PrimerState(song, shown(Path(path).name), str(path)))
        return True

    def set_primer_song(self, song: Song, name: str) -> None:
        self.restore_primer(PrimerState(song, name, ""))

    def clear_primer(self) -> None:
        self.restore_primer(PrimerState())

    def primer_state(self) -> PrimerState:
        return PrimerState(self.primer, self.primer_name, self.primer_path)

    def restore_primer(self, state: PrimerState) -> None:
        """Use `state` as the primer (also what undo and redo of a Continue do)."""
        self.primer, self.primer_name, self.primer_path = state.song, state.name, state.path
        self._update_primer_label()

    def primer_summary(self) -> str:
        """"flute.mid (4 bars)", for the status of a run that continues it; "" without a primer."""
        if self.primer is None:
            return ""
        return f"{self.primer_name} ({primer_length(self.primer, self.controls.kind)})"

    def _update_primer_label(self) -> None:
        label = self.controls.primer_label
        self.controls.primer_clear.setEnabled(self.primer is not None)
        if self.primer is None:
            label.setText(NO_PRIMER)
            label.setStyleSheet("")
            return
        label.setText(f"{self.primer_summary()}: {describe_primer(self.primer, self.tokenizer)}")
        label.setStyleSheet("font-weight: bold;")       # every run continues it: it must not go unseen
