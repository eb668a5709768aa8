"""The files of one training run: the model file and, in its checkpoint
folder, the run lock, the last checkpoint, the best model and the metrics
log. Checks that they can be written before any work, and writes them (rank 0
only under torchrun)."""
from __future__ import annotations

import json
import logging
from pathlib import Path

from composer.errors import ComposerError, OutputExistsError
from composer.music.midifile import leftover_temp_files
from composer.safe_write import check_folder_target, check_target
from training import distributed as D
from training.run_lock import LOCK_NAME, RunLock, RunLocked, take_run_lock

log = logging.getLogger(__name__)
LAST, BEST, METRICS = "last.ckpt", "best.model", "metrics.jsonl"


class RunFiles:
    """Where a run with `config` writes (`out`, `ckpt_dir`, `last`, `best`,
    `metrics_path`), for the process `info`."""

    def __init__(self, config, info):
        self.c, self.info = config, info
        self.out = Path(config.out)
        self.ckpt_dir = config.checkpoint_path
        self.last, self.best = self.ckpt_dir / LAST, self.ckpt_dir / BEST
        self.metrics_path = self.ckpt_dir / METRICS

    def check_paths(self) -> None:
        """Before any work: every output is a file (or nothing) in a folder that
        exists; a device node, FIFO, socket or folder is refused, --force or not."""
        out = self.out
        if not out.parent.exists():
            raise ComposerError(f"output folder {out.parent} does not exist")
        check_target(out, "--out")
        check_folder_target(self.ckpt_dir, "--out")
        for name in (LAST, BEST, METRICS):
            check_target(self.ckpt_dir / name, "--out")
        if self.c.report:
            check_target(self.c.report, "--report")

    def take_lock(self, emit) -> RunLock | None:
        """The output's lock (rank 0 takes it; every rank learns whether it could,
        before any other collective work). Raises RunLocked while another run
        writes the same output."""
        lock, refusal = None, None
        if self.info.is_main:
            try:
                lock = take_run_lock(self.ckpt_dir, self.c.out)
            except RunLocked as exc:
                refusal = str(exc)
            except OSError as exc:      # e.g. a read-only folder: the other ranks must hear of it, not wait
                refusal = f"cannot take the lock {self.ckpt_dir / LOCK_NAME}: {exc.strerror or exc}"
        refusal = D.broadcast_text(self.info, refusal)
        if refusal is not None:
            raise RunLocked(refusal)
        if lock is not None and lock.note:
            log.warning("%s", lock.note)
            emit(message=lock.note)
        if lock is not None:
            self.remove_leftovers(emit)
        return lock

    def remove_leftovers(self, emit) -> None:
        """Remove the temporary files of checkpoint writes killed mid-write (write_atomic's
        own names, several MB each). Called holding the lock: no other write of them runs."""
        removed = 0
        for name in (LAST, BEST):
            for leftover in leftover_temp_files(self.ckpt_dir / name):
                try:
                    leftover.unlink()
                    removed += 1
                except OSError as exc:
                    log.warning("cannot remove %s: %s", leftover, exc.strerror or exc)
        if removed:
            note = f"removed {removed} temporary file(s) of an interrupted write from {self.ckpt_dir}"
            log.info("%s", note)
            emit(message=note)

    def check_earlier_run(self) -> None:
        c = self.c
        if not c.resume and not c.force:
            if self.out.exists():
                raise OutputExistsError(f"{self.out} already exists (use --force to overwrite, or --resume)")
            if self.last.exists():
                raise OutputExistsError(f"an earlier run's checkpoint is in {self.ckpt_dir}; use --resume to "
                                        "continue it or --force to start over")
        if c.resume and not self.last.exists():
            raise ComposerError(f"nothing to resume: no checkpoint {self.last}")

    def open_metrics(self, start_step: int) -> None:
        """Start the metrics log: empty for a fresh run (whose stale checkpoint
        files go too), the rows up to `start_step` for a resumed one."""
        if not self.info.is_main:
            return
        self.ckpt_dir.mkdir(parents=True, exist_ok=True)
        if not start_step:      # a fresh run (--force): an older run's files must not stand in for this one's
            for stale in (LAST, BEST):
                (self.ckpt_dir / stale).unlink(missing_ok=True)
        kept = []
        if start_step and self.metrics_path.exists():
            for line in self.metrics_path.read_text().splitlines():
                try:
                    if json.loads(line)["step"] <= start_step:
                        kept.append(line)
                except (ValueError, KeyError):
                    continue
        check_target(self.metrics_path, "--out")
        self.metrics_path.write_text("".join(line + "\n" for line in kept))

    def log_metrics(self, row: dict) -> None:
        if self.info.is_main:
            check_target(self.metrics_path, "--out")       # (a FIFO would block the run, a device take the rows)
            with open(self.metrics_path, "a") as handle:
                handle.write(json.dumps(row) + "\n")
