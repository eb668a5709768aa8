"""`composer harmony FOLDER`: the harmony and voice leading of a folder of
multi-track MIDI files, and what simple chord predictors score on it.

Each file becomes an Arrangement (composer.corpus.accompany.scan_arrangements:
the melody, chord labels per beat, the voice rows asked for); then
composer.analysis.harmony_stats measures the chord-tone share of strong-beat
melody notes, parallel fifths/octaves and voice crossings per bar, the chord
histogram, and the two chord baselines' held-out bits per chord label: fitted
on FOLDER's other files and scored on a held-out share of them (or fitted on
all of FOLDER and scored on --test's files).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from composer.config import ConfigMixin
from composer.errors import ComposerError
from composer.tasks import ProgressFn, ShouldStop, relabel


@dataclass(frozen=True)
class HarmonyConfig(ConfigMixin):
    folder: str
    test_folder: str | None = None      # None: hold out test_share of `folder` for the baselines
    voices: tuple = ("bass",)           # voice rows under the melody (AccompanyConfig.voices)
    steps_per_beat: int = 2
    test_share: float = 0.1
    seed: int = 0                       # which files are held out
    workers: int | None = None
    cache_dir: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "voices", tuple(self.voices))
        if not 0 < self.test_share < 1:
            raise ValueError(f"test share must be in (0, 1), got {self.test_share}")

    def accompany_config(self):
        from composer.representations.accompany.grid import AccompanyConfig
        return AccompanyConfig(steps_per_beat=self.steps_per_beat, voices=self.voices)

    def validate(self) -> None:
        """The checks that look at the disk, before any work."""
        for folder in (self.folder, self.test_folder):
            if folder is not None and not Path(folder).is_dir():
                raise ComposerError(f"{folder}: no such folder")


@dataclass
class HarmonyResult:
    folder: str
    voices: tuple
    pieces: int
    chord_tones: dict = field(default_factory=dict)     # {"share", "tones", "notes", "downbeats_only"}
    voice_leading: dict = field(default_factory=dict)   # name -> PerBar.to_dict()
    chords: dict = field(default_factory=dict)          # chord_histogram()
    baselines: dict = field(default_factory=dict)       # {"bits": {name: bits}, "labels", "fitted_on", ...}
    skipped: dict = field(default_factory=dict)         # skipped_report() of the scan(s)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        from composer.services.evaluate import finite_or_none
        return finite_or_none(dict(self.__dict__))

    def table_lines(self) -> list[str]:
        from composer.services.evaluate import fmt_number, skipped_line
        tones = self.chord_tones
        lines = [f"harmony of {self.pieces} piece(s) of {self.folder} (melody and {', '.join(self.voices)})",
                 f"chord tones on strong beats: {_percent(tones['share'])} of {tones['notes']} melody notes "
                 f"(downbeats only: {_percent(tones['downbeats_only'])})",
                 f"{'per bar':<18}{'mean':>8}{'SD':>8}{'total':>8}"]
        for name, value in self.voice_leading.items():
            lines.append(f"{name:<18}{fmt_number(value['mean']):>8}{fmt_number(value['sd']):>8}{value['count']:>8}")
        lines.append(chords_line(self.chords))
        lines += baseline_lines(self.baselines)
        if self.skipped.get("count"):
            lines.append(skipped_line(self.skipped))
        return lines


def _percent(share) -> str:
    return "-" if share is None or not math.isfinite(share) else f"{100 * share:.1f}%"


def chords_line(chords: dict) -> str:
    top = ", ".join(f"{name} {_percent(share)}" for name, share in chords["top"][:8])
    return (f"chords: {chords['distinct']} distinct, no chord on {_percent(chords['no_chord_share'])} of "
            f"{chords['beats']} beats; most used (share of beats with a chord): {top or '-'}")


def baseline_lines(baselines: dict) -> list[str]:
    from composer.services.evaluate import fmt_number
    if "skipped" in baselines:
        return [f"baselines: not measured: {baselines['skipped']}"]
    lines = [f"held-out bits per chord label ({baselines['description']}):"]
    for name, bits in baselines["bits"].items():
        lines.append(f"  {BASELINE_NAMES.get(name, name):<34}{fmt_number(bits):>7}")
    return lines


BASELINE_NAMES = {"melody_note": "chord for the melody note", "bigram": "chord bigram",
                  "uniform": "uniform over all labels"}


def harmony_of(arrangements, config: HarmonyConfig, *, test=None, names: str = "") -> HarmonyResult:
    """The measurements of `arrangements` (a list of Arrangement). Baselines:
    fitted on all of them and scored on `test` when given, else fitted and
    scored on a split of them by name (composer.corpus.split.split_files)."""
    from composer.analysis import harmony_stats as hs
    accompany = config.accompany_config()
    if not arrangements:
        raise ComposerError(f"{config.folder}: no usable file to measure")
    tones, notes = hs.chord_tone_counts(arrangements, accompany)
    fifths, octaves = hs.parallels_per_bar(arrangements, accompany)
    return HarmonyResult(
        folder=str(config.folder), voices=tuple(config.voices), pieces=len(arrangements),
        chord_tones={"share": tones / notes if notes else math.nan, "tones": tones, "notes": notes,
                     "downbeats_only": hs.chord_tone_share(arrangements, accompany, middle=False)},
        voice_leading={"parallel fifths": fifths.to_dict(), "parallel octaves": octaves.to_dict(),
                       "voice crossings": hs.crossings_per_bar(arrangements, accompany).to_dict()},
        chords=hs.chord_histogram(arrangements), baselines=_baselines(arrangements, test, config, names))


def _baselines(arrangements, test, config: HarmonyConfig, test_names: str) -> dict:
    from composer.analysis.harmony_baselines import baseline_bits
    from composer.corpus.split import split_files
    from composer.music.harmony import LABEL_COUNT
    if test is not None:
        train, described = arrangements, f"fitted on {len(arrangements)} files, scored on {len(test)} of {test_names}"
    else:
        if len(arrangements) < 2:
            return {"skipped": "a held-out file needs at least 2 usable files (or give --test FOLDER)"}
        by_name = {a.name: a for a in arrangements}
        if len(by_name) != len(arrangements):
            raise ValueError("arrangements need distinct names to be split into fitting and held-out files")
        fit, held = split_files(sorted(by_name), config.test_share, config.seed)
        train, test = [by_name[n] for n in fit], [by_name[n] for n in held]
        described = f"fitted on {len(train)} files, scored on {len(test)} held-out files"
    labels = sum(a.beats for a in test)
    if not labels:
        return {"skipped": "the held-out files have no beats"}
    bits = baseline_bits(train, test, config.accompany_config())
    bits["uniform"] = math.log2(LABEL_COUNT)
    return {"bits": bits, "labels": labels, "fitted_on": [a.name for a in train],
            "scored_on": [a.name for a in test], "description": f"{described}, {labels} labels"}


def folder_harmony(config: HarmonyConfig, progress: ProgressFn | None = None,
                   should_stop: ShouldStop | None = None) -> HarmonyResult:
    """Scan config.folder (and config.test_folder) and measure it (harmony_of)."""
    from composer.corpus.accompany import require_arrangements, scan_arrangements
    from composer.services.evaluate import skipped_report
    config.validate()
    started = time.monotonic()
    accompany = config.accompany_config()

    def scan(folder, stage):
        arrangements, report = scan_arrangements(folder, accompany, cache_dir=config.cache_dir,
                                                 workers=config.workers, progress=relabel(progress, stage),
                                                 should_stop=should_stop)
        require_arrangements(arrangements, report)
        return arrangements, skipped_report(report)

    arrangements, skipped = scan(config.folder, "scanning")
    test = None
    if config.test_folder is not None:
        test, _ = scan(config.test_folder, "scanning the test folder")
    result = harmony_of(arrangements, config, test=test, names=str(config.test_folder))
    result.skipped, result.seconds = skipped, round(time.monotonic() - started, 2)
    return result

