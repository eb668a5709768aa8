"""The `train` command's view of a run on the terminal (training.cli)."""
from __future__ import annotations

import sys

from composer.paths import shown


def _err(text: str) -> None:
    print(shown(text), file=sys.stderr)


class TerminalView:
    """Training's Progress on the terminal: the ingest summary and the device once,
    and the bars (composer.cli.progress) with the loss, validation and speed after them."""

    def __init__(self, quiet: bool, *, report_printed: bool = False):
        from composer.cli.progress import TerminalProgress
        self.bars = TerminalProgress(disable=quiet, postfix=_postfix, mark=lambda p: p.info.val_bits_per_note)
        self.printed_report, self.printed_device, self.printed_chosen = report_printed, False, False

    def __call__(self, progress) -> None:
        p = progress.info
        if progress.stage == "scanning" and progress.total:
            self.bars(progress)
        if p.report is not None and not self.printed_report:
            self.bars.close()
            self.printed_report = True
            for line in p.report.summary_lines():
                _err(line)
        if p.chosen and not self.printed_chosen:
            self.printed_chosen = True
            for line in p.chosen:
                _err(line)
        if progress.stage == "training" and not self.printed_device:
            self.printed_device = True
            _err(f"device: {p.device_reason}")
            if p.message.startswith("resumed"):
                _err(p.message.split(";")[0])
        if progress.stage == "training":
            self.bars(progress)

    def close(self):
        self.bars.close()


def _postfix(progress) -> dict:
    """loss, validation bits per note, speed and eta after the training bar."""
    p = progress.info
    if progress.stage != "training":
        return {}
    post = {"loss": f"{p.train_loss:.3f}" if p.train_loss is not None else "-",
            "val_bits/note": f"{p.val_bits_per_note:.3f}" if p.val_bits_per_note is not None else "-",
            "tok/s": f"{p.tokens_per_s:,.0f}"}
    if p.eta_s is not None:
        post["eta"] = f"{int(p.eta_s // 60)}:{int(p.eta_s % 60):02d}"
    return post
