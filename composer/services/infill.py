"""Infill: rewrite a span of whole bars of a song's melody, `count` variations.

`infill(loaded, song, request, progress, should_stop)` is what the CLI
(`python -m composer infill MODEL FILE.mid --bars 5-6`) and the GUI's
"Regenerate selection" run. The melody is encoded, cut at the span's bar
tokens, the span is sampled `count` times in one batch under the melody
grammar (exactly the requested number of bars; key, scale, pitch range,
temperature, top-k, top-p), and each sample is spliced back.

What the model sees: an infill model (composer.model.infill_network) reads up to its
`context_bars` on both sides; a plain left-to-right model reads everything
before the span (`InfillResult.uses_right_context` is False).

What changes in the song (docs/infill.md): only the melody track, and only
inside the span. A melody note that starts before the span and sounds into
it is shortened to end where the span starts; a note that starts inside the
span is replaced, even if it sounds past the span's end. Every other note of
that track and every other track is kept exactly (not re-quantized: the song
keeps the ticks per beat and the end of the file it was read from).
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from composer.assets import INFILL_MODEL, asset_path
from composer.errors import ComposerError, ConstraintError, ModelFileError
from composer.model.infill_network import InfillRNN, is_infill_config, span_example
from composer.model.modelfile import LoadedModel, read_metadata
from composer.model.sampling import BatchRows, SamplingConfig, draw, filter_logits, sample
from composer.music.scales import allowed_pitch_classes
from composer.music.song import Note, Song
from composer.representations.base import BOS, EOS, PAD, Constraints, UnusableMusic
from composer.representations.melody import BAR, REST, MelodyGrammar, MelodyTokenizer
from composer.services.checks import SamplingRequest
from composer.services.generate import check_pitch_range, check_sampling_controls
from composer.tasks import ProgressFn, ShouldStop, notify

DEFAULT_INFILL_MODEL = asset_path(INFILL_MODEL)
MAX_COUNT = 64


@dataclass
class InfillRequest(SamplingRequest):
    bars: tuple[int, int]        # first and last bar to rewrite, 1-based, inclusive
    count: int = 4               # variations
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    seed: int | None = None      # None: a fresh seed, reported in the result
    key: str | None = None       # as GenerateRequest.key / scale (composer/music/scales.py)
    scale: str | None = None
    pitch_low: int = 0
    pitch_high: int = 127
    track: int | None = None     # index of the melody track (None: the melody policy picks it)

    def validate(self) -> None:
        first, last = self.bars
        if not 1 <= first <= last:
            raise ComposerError(f"bars must be FIRST-LAST with 1 <= FIRST <= LAST, got {first}-{last}")
        if not 1 <= self.count <= MAX_COUNT:
            raise ComposerError(f"count must be in 1..{MAX_COUNT}, got {self.count}")
        check_pitch_range(self.pitch_low, self.pitch_high)
        if self.track is not None and self.track < 0:
            raise ComposerError(f"track must be a track index >= 0, got {self.track}")
        check_sampling_controls(self)


@dataclass
class InfillResult:
    songs: list[Song]            # the input song with the span's melody replaced, one per variation
    seed: int
    span_beats: tuple[float, float]   # where the rewritten span starts and ends, in beats
    uses_right_context: bool     # False when the model is a plain left-to-right model
    span_tokens: list[list[int]] = field(default_factory=list)   # each variation's span as melody tokens


def infill_model_for(model_path) -> Path | None:
    """The model itself if it is an infill model; else the shipped infill
    model when it reads the same music (same representation config); else None."""
    path = Path(model_path)
    meta = read_metadata(path)
    if is_infill_config(meta.get("model")):
        return path
    if DEFAULT_INFILL_MODEL.is_file() and DEFAULT_INFILL_MODEL.resolve() != path.resolve():
        try:
            default = read_metadata(DEFAULT_INFILL_MODEL)
        except ModelFileError:
            return None
        if default.get("representation") == meta.get("representation"):
            return DEFAULT_INFILL_MODEL
    return None


# ---- the span in the song ------------------------------------------------------------

@dataclass
class _Layout:
    track: int                  # the melody track
    tokens: list[int]           # the melody as the model reads it (span bars left as rests)
    first_bar: int              # 0-based
    n_bars: int
    bar_beats: float
    ts: tuple[int, int]


def _melody_track(tok: MelodyTokenizer, song: Song, track: int | None) -> int:
    if track is not None:
        if track >= len(song.tracks):
            raise ComposerError(f"track {track} does not exist (the song has {len(song.tracks)} track(s))")
        if song.tracks[track].is_drum:
            raise ComposerError(f"track {track} is a drum track")
        return track
    try:
        _, label, _ = tok.extract(song)
    except UnusableMusic as exc:
        raise ComposerError(f"no melody to infill: {exc}") from None
    return int(re.match(r"track (\d+)", label).group(1))   # extract names the track it took


def _song_bars(song: Song, bar_beats: float, step: float) -> int:
    """Bars of `song`: to the end of its last note or to its end (`Song.length`, a file's
    end-of-track), whichever is later. A bar the end reaches into by one grid `step` or less
    does not count: writers often end a file a tick after its last event (pretty_midi)."""
    def bars(beats: float) -> int:
        return int(-(-round(beats * 1e6) // round(bar_beats * 1e6)))
    return max(1, bars(song.end_beat), bars(max(0.0, (song.length or 0.0) - step)))


def _layout(tok: MelodyTokenizer, song: Song, request: InfillRequest) -> _Layout:
    ts = tuple(song.time_signature)
    problem = tok.config.meter_problem(ts)
    if problem:
        raise ComposerError(f"the song's {problem}")
    bar_beats = song.bar_length()
    total = _song_bars(song, bar_beats, 1 / tok.config.steps_per_quarter)
    first, last = request.bars
    if last > total:
        raise ComposerError(f"bars {first}-{last} are outside the song (bars 1-{total})")
    change = next((b for b, n, d in song.time_signatures[1:] if (n, d) != ts), None)
    if change is not None and last * bar_beats > change + 1e-9:
        raise ComposerError(f"bars {first}-{last} reach past the meter change at beat {change:g}; "
                            "only bars before it can be rewritten")
    index = _melody_track(tok, song, request.track)
    start, end = (first - 1) * bar_beats, last * bar_beats
    one_line = MelodyTokenizer(replace(tok.config, track=None))      # the chords policy, on this track alone
    picked = one_line.extract(replace(song, tracks=[song.tracks[index]]))[0] if song.tracks[index].notes else []
    c = tok.config
    context = [n for n in picked if c.pitch_low <= n.pitch <= c.pitch_high and not start <= n.start < end
               and (change is None or n.start < change)]
    context = [Note(n.start, min(n.end, start), n.pitch, n.velocity) if n.start < start < n.end else n
               for n in context]
    context = [n for n in context if n.end > n.start]
    tokens = tok.encode_notes(context, ts, end=False)
    have = sum(1 for t in tokens if t == BAR)
    spb = c.steps_per_bar(ts)
    tokens += [BAR, REST, tok.dur_token(spb)] * max(0, total - have) + [EOS]   # silent bars up to the song's end
    return _Layout(index, tokens, first - 1, last - first + 1, bar_beats, ts)


def _splice(song: Song, layout: _Layout, notes: list[Note]) -> Song:
    """The song with the melody track's span replaced by `notes` (in beats)."""
    start, end = layout.first_bar * layout.bar_beats, (layout.first_bar + layout.n_bars) * layout.bar_beats
    track = song.tracks[layout.track]
    kept = []
    for n in track.notes:
        if n.end <= start or n.start >= end:
            kept.append(n)
        elif n.start < start:
            kept.append(Note(n.start, start, n.pitch, n.velocity))   # sounded into the span: cut at its start
    velocities = sorted(n.velocity for n in track.notes)
    velocity = velocities[len(velocities) // 2] if velocities else 80
    new = [Note(n.start + start, n.end + start, n.pitch, velocity) for n in notes]
    tracks = [replace(t, notes=list(t.notes)) for t in song.tracks]
    tracks[layout.track] = replace(track, notes=sorted(kept + new))
    return replace(song, tracks=tracks, tempos=list(song.tempos), time_signatures=list(song.time_signatures))


# ---- sampling ------------------------------------------------------------------------------

class SpanGrammar(MelodyGrammar):
    """The melody grammar for a span: after the left context it starts a new
    bar, and the span's first event may not hold a note of the left context
    (that note is cut at the span's start)."""

    def mark_primed(self) -> None:
        super().mark_primed()
        self.has_prev[:] = False


@torch.no_grad()
def _sample_infill_model(model: InfillRNN, tok: MelodyTokenizer, layout: _Layout, grammar: SpanGrammar,
                         count: int, cfg: SamplingConfig, seed: int, on_step, should_stop) -> list[list[int]]:
    """The sampling loop of generate, with the infill model's extra inputs."""
    device = next(model.parameters()).device
    positions = tok.positions(layout.tokens)
    ex = span_example(layout.tokens, positions, layout.first_bar, layout.n_bars, model.config.context_bars,
                      include_span=False)
    as_row = lambda values: torch.tensor([values], dtype=torch.long, device=device)
    right = model.encode_right(as_row(ex.right), as_row(ex.right_positions), torch.tensor([len(ex.right)]))
    logits, state = model.decode(as_row(ex.forward), as_row(ex.forward_positions), as_row(ex.remaining),
                                 as_row(ex.in_span), right)                 # prime once, then widen to the batch
    logits = logits[:, -1].expand(count, -1)                               # (B, V)
    state = tuple(s.expand(-1, count, -1).contiguous() for s in state) if isinstance(state, tuple) \
        else state.expand(-1, count, -1).contiguous()
    right = right.expand(count)
    for t in ex.forward:
        grammar.update(torch.full((count,), t, dtype=torch.long))
    grammar.mark_primed()
    bars_done = torch.zeros(count, dtype=torch.long, device=device)
    in_span = torch.ones((count, 1), dtype=torch.long, device=device)
    out, rows = [], BatchRows(seed, count)
    for _ in range(grammar.max_steps()):
        if should_stop is not None and should_stop():
            from composer.errors import Cancelled
            raise Cancelled("infill cancelled")
        filtered = filter_logits(logits, grammar.mask(), cfg)
        u = torch.from_numpy(rows.uniforms()[:, None]).to(device)          # take i's own numbers, as in sample
        nxt = draw(torch.softmax(filtered, dim=-1), u)                     # (B, 1)
        grammar.update(nxt[:, 0])
        out.append(nxt)
        if on_step is not None:
            on_step(grammar)
        if bool(grammar.done.all()):
            break
        bars_done += (nxt[:, 0] == BAR).long()
        remaining = (layout.n_bars - bars_done).clamp(min=0)[:, None]       # (B, 1)
        pos = grammar.positions().to(device)[:, None]
        logits, state = model.decode(nxt, pos, remaining, in_span, right, state)
        logits = logits[:, -1]
    return [row for row in torch.cat(out, dim=1).tolist()]


def _span_tokens(row: list[int]) -> list[int]:
    out = []
    for t in row:
        if t in (EOS, PAD):
            break
        out.append(t)
    return out


def infill(loaded: LoadedModel, song: Song, request: InfillRequest, progress: ProgressFn | None = None,
           should_stop: ShouldStop | None = None) -> InfillResult:
    """`request.count` variations of `song` with the span `request.bars`
    rewritten. progress(Progress) counts grid steps of the span written
    (unit "step", stage "infilling"), summed over the variations; should_stop()
    is checked every token and raises composer.errors.Cancelled."""
    request.validate()
    tok = loaded.tokenizer
    if not isinstance(tok, MelodyTokenizer):
        raise ComposerError(f"infill needs a melody model; this one is a {tok.kind} model")
    layout = _layout(tok, song, request)
    constraints = Constraints(bars=layout.n_bars, pitch_classes=allowed_pitch_classes(request.key, request.scale),
                              pitch_low=request.pitch_low, pitch_high=request.pitch_high, time_signature=layout.ts)
    uses_right = isinstance(loaded.model, InfillRNN)
    try:   # the plain model's sampler starts every variation from a grammar of one
        grammar = SpanGrammar(tok, request.count if uses_right else 1, constraints, "cpu")
    except ValueError as exc:
        raise ConstraintError(str(exc)) from None
    seed = request.seed if request.seed is not None else random.SystemRandom().randrange(2**31)
    total = request.count * layout.n_bars * tok.config.steps_per_bar(layout.ts)

    def report(fraction: float) -> None:
        notify(progress, min(total, int(fraction * total)), total, "step", "infilling")

    if uses_right:
        rows = _sample_infill_model(loaded.model, tok, layout, grammar, request.count, request.sampling(),
                                    seed, lambda g: report(g.progress()), should_stop)
    else:
        bars = [i for i, t in enumerate(layout.tokens) if t == BAR]
        prefix = layout.tokens[:bars[layout.first_bar]]
        out = sample(loaded.model, grammar, prefix, request.count, request.sampling(), seed=seed,
                     prefix_positions=tok.positions(prefix), should_stop=should_stop, mark_primed=True,
                     on_step=lambda step, state: report(state.fraction()))
        rows = [row[len(prefix):] for row in out]
    spans = [_span_tokens(row) for row in rows]
    songs = []
    for span in spans:
        notes, _, _ = tok.decode_notes([BOS, *tok.meter_tokens(layout.ts)] + span)
        songs.append(_splice(song, layout, notes))
    notify(progress, total, total, "step", "infilling")
    start = layout.first_bar * layout.bar_beats
    return InfillResult(songs=songs, seed=seed, span_beats=(start, start + layout.n_bars * layout.bar_beats),
                        uses_right_context=uses_right, span_tokens=spans)


__all__ = ["DEFAULT_INFILL_MODEL", "InfillRequest", "InfillResult", "infill", "infill_model_for"]
