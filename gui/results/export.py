"""Export of the song shown: a .mid file, or WAV audio rendered on a worker
thread; the target is asked for and never overwritten without a question."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from composer.errors import ComposerError
from composer.music.midifile import write_midi
from composer.music.song import Song
from composer.safe_write import check_target
from gui.dialogs import MIDI_FILTER, WAV_FILTER, Dialogs
from gui.jobs import Job
from gui.results.sound import SoundOutput, audio_module
from gui.settings import Settings


class SongExport(QObject):
    """Writes a song where the user chooses. `status(text)` for the status bar,
    `audioJobChanged()` when an audio render starts or ends (`audio_job`)."""

    status = Signal(str)
    audioJobChanged = Signal()

    def __init__(self, settings: Settings, dialogs: Dialogs, sound: SoundOutput, parent: QObject | None = None):
        super().__init__(parent)
        self.settings, self.dialogs, self.sound = settings, dialogs, sound
        self.audio_job: Job | None = None

    def _target_path(self, caption: str, name: str, suffix: str, file_filter: str) -> tuple[Path, bool] | None:
        """Ask where to write (proposing `name` with `suffix`); returns (path, force)
        or None. Never overwrites silently."""
        name = Path(name).with_suffix(suffix).name
        folder = self.settings.get("export/folder") or str(Path.home())
        chosen = self.dialogs.save_file(caption, str(Path(folder) / name), file_filter)
        if not chosen:
            return None
        path = Path(chosen)
        if path.suffix.lower() not in (suffix, ".midi" if suffix == ".mid" else suffix):
            path = path.with_name(path.name + suffix)
        try:
            check_target(path, "file name")     # a device, FIFO, socket or folder: no "replace?" question
        except ComposerError as exc:
            self.dialogs.error(caption, str(exc))
            return None
        force = False
        if path.exists():
            if not self.dialogs.confirm("Replace file?", f"{path.name} already exists in {path.parent}.\n"
                                                           "Do you want to replace it?"):
                return None
            force = True
        self.settings.set("export/folder", str(path.parent))
        return path, force

    def export_midi(self, song: Song, name: str) -> Path | None:
        """Write `song` as a .mid file, proposing the file name `name`; the path written, or None."""
        target = self._target_path("Export MIDI", name, ".mid", MIDI_FILTER)
        if target is None:
            return None
        path, force = target
        try:
            write_midi(song, path, force=force)
        except (ComposerError, OSError) as exc:
            self.dialogs.error("Export failed", f"Could not write {path}: {exc}")
            return None
        self.status.emit(f"Wrote {path}")
        return path

    def export_audio(self, song: Song, name: str) -> None:
        """Render `song` to WAV on a worker thread, proposing the file name `name`
        (nothing while a render runs or the synthesizer is not available)."""
        audio = audio_module()
        if audio is None or self.sound.audio_reason or self.audio_job is not None:
            return
        target = self._target_path("Export audio", name, ".wav", WAV_FILTER)
        if target is None:
            return
        path, force = target

        soundfont = self.sound.soundfont

        def render(progress, should_stop):
            return audio.write_wav(song, path, force=force, soundfont=soundfont)

        self.audio_job = Job("export-audio", render, self)
        self.audio_job.succeeded.connect(self._on_audio_written)
        self.audio_job.failed.connect(self._on_audio_failed)
        self.audio_job.finished.connect(self._on_audio_finished)
        self.status.emit(f"Rendering {path.name}...")
        self.audio_job.start()
        self.audioJobChanged.emit()

    def _on_audio_written(self, path) -> None:
        self.status.emit(f"Wrote {path}")

    def _on_audio_failed(self, error) -> None:
        self.dialogs.job_error("Audio export failed", error)

    def _on_audio_finished(self) -> None:
        self.audio_job = None
        self.audioJobChanged.emit()

    def running_jobs(self) -> list[Job]:
        return [self.audio_job] if self.audio_job is not None and self.audio_job.is_running() else []
