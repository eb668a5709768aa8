"""Harmonise a melody: `count` arrangements of chords and voices under it.

`harmonize(loaded, song, request, progress, should_stop)` is what the CLI
(`python -m composer harmonize MODEL SONG.mid`, `generate --accompany MODEL`)
runs. The melody (the track the melody policy picks, or `request.track`) is
put on the model's grid, the harmoniser (composer.model.harmonizer_network)
writes `count` arrangements in one batch (composer.model.harmonizer_sampling:
temperature, top-k, top-p, a key constraint on the voices' pitch classes and
the chord roots, optionally no parallel fifths or octaves, reproducible by seed), and each becomes a song: the melody
track exactly as it was (not re-quantized), then one track per part
(composer.representations.accompany.extract.arrangement_to_song). The input's
other tracks are left out: the parts replace any accompaniment it had.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field, replace

import numpy as np

from composer.errors import ComposerError
from composer.model.harmonizer_sampling import sample_harmony
from composer.model.modelfile import LoadedModel
from composer.music.scales import allowed_pitch_classes
from composer.music.song import Song
from composer.paths import shown
from composer.representations.accompany.extract import arrangement_to_song, fold
from composer.representations.accompany.grid import HOLD, REST, AccompanyConfig, Arrangement
from composer.representations.base import UnusableMusic
from composer.representations.melody import MelodyConfig, MelodyTokenizer
from composer.services.checks import SamplingRequest
from composer.services.defaults import DEFAULTS
from composer.services.generate import check_sampling_controls
from composer.tasks import Progress, ProgressFn, ShouldStop, notify

MAX_COUNT = 64
PARALLELS_RARE = 0.05          # parallel fifths + octaves per bar below which a folder avoids them


@dataclass
class HarmonizeRequest(SamplingRequest):
    count: int = 4               # arrangements of the one melody
    temperature: float = DEFAULTS.temperature     # the same sampling defaults as generate
    top_k: int = DEFAULTS.top_k
    top_p: float = DEFAULTS.top_p
    seed: int | None = None      # None: a fresh seed, reported in the result
    key: str | None = None       # as GenerateRequest.key / scale: voices' pitch classes and chord roots in key
    scale: str | None = None
    track: int | None = None     # index of the melody track (None: the melody policy picks it)
    # no voice moves into a parallel fifth or octave with a line above it; None: as the training folder
    # does (avoided when it had fewer than PARALLELS_RARE a bar, see `avoids_parallels`)
    no_parallels: bool | None = None

    def validate(self) -> None:
        if not 1 <= self.count <= MAX_COUNT:
            raise ComposerError(f"count must be in 1..{MAX_COUNT}, got {self.count}")
        if self.track is not None and self.track < 0:
            raise ComposerError(f"track must be a track index >= 0, got {self.track}")
        check_sampling_controls(self)


@dataclass
class HarmonizeResult:
    songs: list[Song]                    # the melody and the new parts, one song per arrangement
    seed: int
    arrangements: list[Arrangement] = field(default_factory=list)
    melody_track: int | None = None      # the input's melody track (None: an Arrangement was given)


def avoids_parallels(loaded: LoadedModel, request: HarmonizeRequest) -> bool:
    """Whether sampling keeps the parts out of parallel fifths and octaves:
    as asked, else as the model's training folder did (Bach's chorales have
    about 0.02 a bar; a rock band's power chords move in fifths all the time)."""
    if request.no_parallels is not None:
        return request.no_parallels
    rate = (loaded.training.get("folder_style") or {}).get("parallels_per_bar")
    return isinstance(rate, (int, float)) and rate < PARALLELS_RARE


def require_accompany(loaded: LoadedModel) -> None:
    """Raise ComposerError unless `loaded` is an accompaniment model."""
    if loaded.is_accompany:
        return
    what = "an infill model" if loaded.is_infill else f"a {loaded.tokenizer.kind} model"
    raise ComposerError(f"{shown(loaded.path) if loaded.path else 'this model'} is {what}: it writes melodies; "
                        "harmonising needs an accompaniment model (train FOLDER --objective accompany)")


def melody_arrangement(song: Song, config: AccompanyConfig, track: int | None = None) -> tuple[Arrangement, int]:
    """(the melody of `song` on the grid of `config`, with no voices, the index
    of the track it came from); ComposerError when the song has no melody."""
    if track is not None and track >= len(song.tracks):
        raise ComposerError(f"track {track} does not exist (the song has {len(song.tracks)} track(s))")
    if track is not None and song.tracks[track].is_drum:
        raise ComposerError(f"track {track} is a drum track, not a melody")
    tok = MelodyTokenizer(MelodyConfig(steps_per_quarter=config.steps_per_beat, track=track, min_notes=1))
    try:
        index, source = tok.melody_track(song)
    except UnusableMusic as exc:
        raise ComposerError(f"no melody to harmonise: {exc}; give a song with a melody track") from None
    notes, _ = tok.monophonic(source)
    spb = config.steps_per_beat
    grid = [(round(n.start * spb), max(round(n.start * spb) + 1, round(n.end * spb)), n.pitch) for n in notes]
    end = max([stop for _, stop, _ in grid] + [round((song.length or 0.0) * spb)])
    steps = -(-end // spb) * spb
    melody = np.full(steps, REST, dtype=np.int16)
    for start, stop, pitch in grid:
        melody[start] = config.onset(fold(pitch, config))
        melody[start + 1:stop] = HOLD
    return Arrangement(steps_per_beat=spb, melody=melody, voices=np.zeros((len(config.voices), steps), np.int16),
                       chords=np.zeros(steps // spb, np.int16), step_in_bar=_step_in_bar(song, steps, spb),
                       voice_names=tuple(config.voices), time_signatures=list(song.time_signatures),
                       tempo=song.tempo), index


def _step_in_bar(song: Song, steps: int, spb: int) -> np.ndarray:
    bar_starts = np.array(song.bar_starts(end=steps / spb) or [0.0])
    beats = np.arange(steps) / spb
    bar = np.searchsorted(bar_starts, beats + 1e-9, side="right") - 1
    return np.round((beats - bar_starts[np.maximum(bar, 0)]) * spb).astype(np.int16)


def harmonize(loaded: LoadedModel, melody: Song | Arrangement, request: HarmonizeRequest,
              progress: ProgressFn | None = None, should_stop: ShouldStop | None = None) -> HarmonizeResult:
    """`request.count` arrangements under the melody of `melody` (a Song, or an
    Arrangement whose melody row is read). progress(Progress): stage
    "harmonising", done/total in grid steps."""
    require_accompany(loaded)
    request.validate()
    config = loaded.tokenizer.config
    if isinstance(melody, Song):
        arr, index = melody_arrangement(melody, config, request.track)
    else:
        arr, index = melody, None
    if arr.steps < config.steps_per_beat:
        raise ComposerError("no melody to harmonise: the melody is shorter than one beat")
    seed = request.seed if request.seed is not None else random.SystemRandom().randrange(2**31)
    keyed = allowed_pitch_classes(request.key, request.scale)

    def on_step(done: int, total: int) -> None:
        if progress is not None:
            progress(Progress(done, total, "step", "harmonising"))

    voices, chords = sample_harmony(loaded.model, arr, config, request.count, request.sampling(), seed,
                                    pitch_classes=keyed, root_classes=keyed,
                                    no_parallels=avoids_parallels(loaded, request), progress=on_step,
                                    should_stop=should_stop)
    arrangements = [replace(arr, voices=voices[i], chords=chords[i]) for i in range(request.count)]
    songs = [_song(melody, index, a, config) for a in arrangements]
    notify(progress, arr.steps, arr.steps, "step", "harmonising")
    return HarmonizeResult(songs=songs, seed=seed, arrangements=arrangements, melody_track=index)


def _song(melody: Song | Arrangement, index: int | None, arr: Arrangement, config: AccompanyConfig) -> Song:
    """The melody track as it was, then the arrangement's parts."""
    if index is None:
        return arrangement_to_song(arr, config)
    source = melody.tracks[index]
    parts = arrangement_to_song(arr, config, melody_program=source.program).tracks[1:]
    length = max(melody.length or 0.0, arr.steps / arr.steps_per_beat)
    return Song(tracks=[source, *parts], tempos=list(melody.tempos), time_signatures=list(melody.time_signatures),
                length=length, ticks_per_beat=melody.ticks_per_beat)
