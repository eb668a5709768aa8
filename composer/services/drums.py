"""Drums under a song: the service `composer drums`, `generate --drums` and the
app call. A drums model (train --representation drums) writes a drum track of
exactly the song's bars, in the song's meters; the song keeps its tracks and
its tempo map, so the drums play at its tempo.

    result = add_drums(load_model("drums.model"), read_midi("song.mid"), DrumsRequest(count=4, seed=1))
    result.songs      # four takes: the song with one more track, "Drums" (MIDI channel 10)
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field, replace

from composer.errors import ComposerError
from composer.model.modelfile import LoadedModel
from composer.model.sampling import sample
from composer.music.song import Song
from composer.paths import shown
from composer.representations.base import BOS
from composer.representations.drum_grammar import DrumGrammar
from composer.representations.drums import drum_track
from composer.services.checks import SamplingRequest, check_seed_and_sampling
from composer.services.defaults import DEFAULTS
from composer.tasks import ProgressFn, ShouldStop, notify

MAX_TAKES = 1000


@dataclass
class DrumsRequest(SamplingRequest):
    """How many takes of drums to write under one song, and the sampling controls."""

    count: int = 4
    temperature: float = DEFAULTS.temperature
    top_k: int = DEFAULTS.top_k
    top_p: float = DEFAULTS.top_p
    seed: int | None = None              # None: a fresh seed, reported in the result
    batch_size: int = 64

    def validate(self) -> None:
        """Raise ComposerError naming the bad value."""
        if not 1 <= self.count <= MAX_TAKES:
            raise ComposerError(f"count must be in 1..{MAX_TAKES}, got {self.count}")
        if self.batch_size < 1:
            raise ComposerError(f"batch size must be >= 1, got {self.batch_size}")
        check_seed_and_sampling(self)


@dataclass
class DrumsResult:
    songs: list[Song]                    # take i: the song with its drum track
    seed: int
    tokens: list[list[int]] = field(default_factory=list)


def _name(loaded: LoadedModel) -> str:
    return shown(loaded.path) if loaded.path else "this model"


def require_drums_model(loaded: LoadedModel) -> None:
    """Raise ComposerError unless `loaded` is a drums model."""
    if loaded.tokenizer.kind != "drums":
        raise ComposerError(f"{_name(loaded)} is a {loaded.tokenizer.kind} model, not a drums model: give a model "
                            "trained with 'train FOLDER --representation drums'")


def refuse_drums_model(loaded: LoadedModel, task: str) -> None:
    """Raise ComposerError when `loaded` is a drums model and `task` (e.g. "generating
    a melody") needs another kind."""
    if loaded.tokenizer.kind == "drums":
        raise ComposerError(f"{_name(loaded)} is a drums model: it adds drums under a song ('composer drums "
                            f"MODEL SONG.mid' or 'generate --drums MODEL'); {task} needs a melody model")


def song_bars(song: Song) -> list[tuple[float, float, tuple[int, int]]]:
    """(start beat, end beat, meter) of every bar of `song`; a bar that a meter
    change cuts short ends at the change."""
    starts = song.bar_starts()
    meters = sorted(song.time_signatures) or [(0.0, 4, 4)]
    bars = []
    for k, start in enumerate(starts):
        _, num, den = max((m for m in meters if m[0] <= start + 1e-9), default=meters[0])
        end = starts[k + 1] if k + 1 < len(starts) else start + num * 4 / den
        bars.append((start, end, (num, den)))
    return bars


def _check_song(loaded: LoadedModel, song: Song) -> list[tuple[float, float, tuple[int, int]]]:
    bars = song_bars(song)
    if not bars:
        raise ComposerError("the song has no notes: there is nothing to put drums under")
    for k, (_, _, ts) in enumerate(bars):
        problem = loaded.tokenizer.config.meter_problem(ts)
        if problem:
            raise ComposerError(f"bar {k + 1} of the song is in {problem}; {_name(loaded)} cannot write drums "
                                "for it")
    return bars


def add_drums(loaded: LoadedModel, song: Song, request: DrumsRequest, progress: ProgressFn | None = None,
              should_stop: ShouldStop | None = None) -> DrumsResult:
    """`request.count` takes of `song` with a drum track added: take i depends on
    the seed, the model and the song only (not on the batch size).

    progress(Progress): stage "adding drums", done/total in bars summed over the takes."""
    require_drums_model(loaded)
    request.validate()
    bars = _check_song(loaded, song)
    tok = loaded.tokenizer
    seed = request.seed if request.seed is not None else random.SystemRandom().randrange(2**31)
    grammar = DrumGrammar(tok, 1, [ts for _, _, ts in bars], loaded.device)
    total = len(bars) * request.count

    def on_step(step, state):
        notify(progress, min(int(state.fraction() * total), total), total, "bar", "adding drums")

    sequences = sample(loaded.model, grammar, [BOS], request.count, request.sampling(), slots=request.batch_size,
                       seed=seed, prefix_positions=tok.positions([BOS]), on_step=on_step if progress else None,
                       should_stop=should_stop)
    songs = [with_drums(tok, song, bars, tokens) for tokens in sequences]
    notify(progress, total, total, "bar", "adding drums")
    return DrumsResult(songs=songs, seed=seed, tokens=sequences)


def with_drums(tok, song: Song, bars, tokens: list[int]) -> Song:
    """`song` with the drum track that `tokens` write, bar k of the tokens placed on bar k of `bars`."""
    notes = []
    for (start, end, _), (ts, steps) in zip(bars, tok.decode_bars(tokens)):
        notes += tok.bar_notes(ts, steps, start, end)
    return replace(song, tracks=[*song.tracks, drum_track(notes)], length=max(song.length_beats, bars[-1][1]))


def drums_under_each(loaded: LoadedModel, songs: list[Song], request: DrumsRequest,
                     progress: ProgressFn | None = None, should_stop: ShouldStop | None = None) -> list[Song]:
    """Each of `songs` with one take of drums (generate --drums): song i's take is
    drawn with seed `request.seed` + i, so each song keeps its drums at any count."""
    require_drums_model(loaded)
    seed = request.seed if request.seed is not None else random.SystemRandom().randrange(2**31)
    out = []
    for i, song in enumerate(songs):
        one = replace(request, count=1, seed=(seed + i) % 2**63)
        out += add_drums(loaded, song, one, should_stop=should_stop).songs
        notify(progress, i + 1, len(songs), "piece", "adding drums")
    return out


__all__ = ["DrumsRequest", "DrumsResult", "add_drums", "drums_under_each", "refuse_drums_model",
           "require_drums_model", "song_bars", "with_drums"]
