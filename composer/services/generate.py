"""The generation service: one request in, songs out.

`generate(loaded, request, progress, should_stop)` is what the CLI runs under
a progress bar and the GUI runs on a worker thread.
"""
from __future__ import annotations

import math
import os
import random
from dataclasses import dataclass, field, replace
from pathlib import Path

from composer.errors import ComposerError, ConstraintError
from composer.model.modelfile import LoadedModel
from composer.model.sampling import sample
from composer.music.midifile import song_to_bytes, write_atomic
from composer.music.scales import allowed_pitch_classes
from composer.music.song import Note, Song, pitch_name
from composer.paths import shown
from composer.representations.base import BOS, Constraints, UnusableMusic
from composer.representations.frames import FramesTokenizer
from composer.representations.melody import MelodyTokenizer
from composer.representations.melody.config import meter_range_problem
from composer.representations.performance import PerformanceTokenizer
from composer.safe_write import check_folder_target, check_target
from composer.services import chords as lead
from composer.services.checks import SamplingRequest, check_seed_and_sampling
from composer.services.defaults import DEFAULTS
from composer.services.drums import refuse_drums_model
from composer.services.form_plan import DEFAULT_BARS, check_form, check_form_model, sampling_grammar
from composer.services.primer import load_primer, parse_note_list
from composer.tasks import Progress, ProgressFn, ShouldStop, notify

MAX_COUNT = 10_000


@dataclass
class GenerateRequest(SamplingRequest):
    """Everything a user can ask of one generation run."""

    count: int = DEFAULTS.count          # (every default: composer.services.defaults)
    bars: int | None = None              # melody length in new bars (neither bars nor seconds: DEFAULT_BARS)
    seconds: float | None = None         # performance length (or melody length, converted to bars)
    temperature: float = DEFAULTS.temperature
    top_k: int = DEFAULTS.top_k
    top_p: float = DEFAULTS.top_p
    seed: int | None = None              # None: a fresh seed, reported in the result
    primer: str | os.PathLike | Song | list[Note] | None = None
    keep_primer: bool = True
    key: str | None = None
    scale: str | None = None
    pitch_low: int = DEFAULTS.pitch_low
    pitch_high: int = DEFAULTS.pitch_high
    tempo: float = DEFAULTS.tempo
    program: int = DEFAULTS.program      # General MIDI program 0..127
    time_signature: tuple[int, int] | None = None   # melody: None lets the model choose
    batch_size: int = 64
    form: str = DEFAULTS.form            # melody: auto, free or phrase letters, e.g. AABB (services.form_plan)
    phrase_bars: int | None = None       # bars per phrase; None: bars / phrases (or 4 when bars is None)
    vary: bool = False                   # a repeated phrase gets a second ending
    max_copy: int | None = None          # resample pieces copying more notes of the training data (copylimit)
    copy_folder: str | None = None       # with max_copy: compare with this folder, not the model's own index
    chords: str | None = None            # melody: over a progression, e.g. "Am F C G", "Am F | C G" (services.chords)
    chords_track: bool = True            # with chords: write them as a "Chords" track under the melody

    def validate(self) -> None:
        """Every rule that needs no model (see `prepare` for the others); raises
        ComposerError naming the bad value. The CLI and the app both call it."""
        lead.check_chords(self)          # (fills in bars from the chords when neither they nor a form give one)
        check_form(self)                 # (fills in bars from the form when bars is None)
        if not 1 <= self.count <= MAX_COUNT:
            raise ComposerError(f"count must be in 1..{MAX_COUNT}, got {self.count}")
        if self.bars is not None and self.seconds is not None:
            raise ComposerError(f"give a length in bars or in seconds, not both (got {self.bars} bars and "
                                f"{self.seconds:g} seconds)")
        if self.bars is not None and not 1 <= self.bars <= 1000:
            raise ComposerError(f"bars must be in 1..1000, got {self.bars}")
        if self.seconds is not None and not 0 < self.seconds <= 3600:
            raise ComposerError(f"seconds must be in (0, 3600], got {self.seconds}")
        check_pitch_range(self.pitch_low, self.pitch_high)
        problem = self.time_signature is not None and meter_range_problem(tuple(self.time_signature))
        if problem:
            raise ComposerError(problem)
        if not 10 <= self.tempo <= 400:
            raise ComposerError(f"tempo must be in 10..400 bpm, got {self.tempo}")
        if not 0 <= self.program <= 127:
            raise ComposerError(f"program must be a General MIDI program 0..127, got {self.program}")
        if self.batch_size < 1:
            raise ComposerError(f"batch size must be >= 1, got {self.batch_size}")
        check_sampling_controls(self)
        self._check_copy_limit()

    def _check_copy_limit(self) -> None:
        from composer.model.copyindex import DEFAULT_ANCHOR
        if self.max_copy is not None and (self.max_copy < 0 or 0 < self.max_copy < DEFAULT_ANCHOR):
            raise ComposerError(f"max copy must be 0 or >= {DEFAULT_ANCHOR} notes (shorter shared runs are not "
                                f"counted), got {self.max_copy}")
        if self.copy_folder is not None and self.max_copy is None:
            raise ComposerError(f"a copy folder ({self.copy_folder}) is only read with a max copy: give max copy K")


def check_pitch_range(low: int, high: int) -> None:
    """Raise ConstraintError unless low..high is a non-empty range of MIDI pitches."""
    if not 0 <= low <= 127 or not 0 <= high <= 127:
        raise ConstraintError(f"pitch range must be within MIDI pitches 0..127, got {low}..{high}")
    if low > high:
        raise ConstraintError(f"the pitch range is empty: lowest {pitch_name(low)} is above highest "
                              f"{pitch_name(high)}")


def check_sampling_controls(request) -> None:
    """`check_seed_and_sampling` and the key/scale (GenerateRequest, InfillRequest);
    raises ComposerError / ConstraintError naming the bad value."""
    check_seed_and_sampling(request)
    allowed_pitch_classes(request.key, request.scale)   # raises ConstraintError naming the bad value


@dataclass
class GenerationResult:
    songs: list[Song]
    seed: int
    tokens: list[list[int]] = field(default_factory=list)
    primer_beats: float = 0.0            # where new music starts in each song (0 if primer dropped)


def _primer_tokens(loaded: LoadedModel, request: GenerateRequest) -> tuple[list[int], float]:
    """Prefix tokens for the sampler and the primer length in beats."""
    tok = loaded.tokenizer
    if request.primer is None:
        return [BOS], 0.0
    song = load_primer(request.primer)
    try:
        if isinstance(tok, MelodyTokenizer):
            ts = tuple(song.time_signature)
            if request.time_signature and tuple(request.time_signature) != ts:
                raise ComposerError(f"the primer is in {ts[0]}/{ts[1]} but {request.time_signature[0]}/"
                                    f"{request.time_signature[1]} was requested: ask for {ts[0]}/{ts[1]}, "
                                    f"or for no time signature to go on in the primer's")
            problem = tok.config.meter_problem(ts)
            if problem:
                raise ComposerError(f"the primer's {problem}")
            notes, _, _ = tok.extract(song)
            c = tok.config
            notes = [n for n in notes if c.pitch_low <= n.pitch <= c.pitch_high]
            if not notes:
                raise UnusableMusic("no notes in the model's pitch range")
            tokens = tok.encode_notes(notes, ts, end=False)
            return tokens, max(n.end for n in notes)
        if isinstance(tok, FramesTokenizer):
            tokens = tok.strip_end(tok.encode(song).tokens)
            return tokens, tokens.count(tok.end_of_frame) / tok.config.steps_per_quarter
        quantized = tok.quantize(song)
        c = tok.config
        quantized = [q for q in quantized if c.pitch_low <= q[2] <= c.pitch_high]
        if not quantized:
            raise UnusableMusic("no notes in the model's pitch range")
        tokens = tok.encode_quantized(quantized, end=False)
        return tokens, max(q[1] for q in quantized) * c.shift_ms / 1000.0
    except UnusableMusic as exc:
        named = "" if isinstance(request.primer, (Song, list)) else f" {request.primer}"
        raise ComposerError(f"primer{named} cannot be used: {exc}") from None


def constraints_for(loaded: LoadedModel, request: GenerateRequest) -> Constraints:
    tok = loaded.tokenizer
    pcs = allowed_pitch_classes(request.key, request.scale)
    bars, seconds = request.bars, request.seconds
    if bars is None and seconds is None:
        bars = DEFAULT_BARS
    if isinstance(tok, (MelodyTokenizer, FramesTokenizer)) and request.seconds is not None:
        ts = request.time_signature or (4, 4)
        bar_seconds = ts[0] * 4 / ts[1] * 60.0 / request.tempo
        bars = max(1, math.ceil(request.seconds / bar_seconds - 1e-9))
    if isinstance(tok, PerformanceTokenizer):
        if seconds is None:
            seconds = (bars or 8) * 4 * 60.0 / request.tempo   # bars of 4/4 at the tempo
        bars = None
    if isinstance(tok, FramesTokenizer):
        seconds = None                                       # length in bars, as for melody
    progression, meter = lead.request_progression(request), request.time_signature
    if progression is not None:
        pcs, meter = lead.chord_scale(request, progression), lead.chord_meter(request)
    try:
        return Constraints(bars=bars, seconds=seconds, pitch_classes=pcs,
                           pitch_low=request.pitch_low, pitch_high=request.pitch_high,
                           time_signature=meter, chords=progression)
    except ComposerError as exc:
        raise ConstraintError(str(exc)) from None


def _finish(loaded: LoadedModel, song: Song, request: GenerateRequest, primer_len: float,
            primer_used: bool) -> Song:
    """A decoded sequence with the primer dropped if asked."""
    tok = loaded.tokenizer
    if isinstance(tok, FramesTokenizer) and request.time_signature:     # the meter the bars were counted in
        song = replace(song, time_signatures=[(0.0, *request.time_signature)])
    if not primer_used or request.keep_primer:
        return song
    if isinstance(tok, MelodyTokenizer):
        bar = song.bar_length()
        cut = math.ceil(primer_len / bar - 1e-9) * bar      # the bar line after the primer
    elif isinstance(tok, FramesTokenizer):
        cut = primer_len                                      # already in beats
    else:
        cut = _in_beats(loaded, primer_len, request)          # seconds -> beats at the output tempo
    notes = [Note(n.start - cut, n.end - cut, n.pitch, n.velocity) for n in song.tracks[0].notes if n.start >= cut]
    length = None if song.length is None else max(0.0, song.length - cut)   # the new bars, rests included
    return replace(song, tracks=[replace(song.tracks[0], notes=notes)], length=length)


def _in_beats(loaded: LoadedModel, primer_len: float, request: GenerateRequest) -> float:
    """A primer length from `_primer_tokens` (seconds for performance, else beats) in beats of the output."""
    return primer_len * request.tempo / 60.0 if isinstance(loaded.tokenizer, PerformanceTokenizer) else primer_len


class _Previews:
    """The songs of a request while it is sampled, for the progress callback:
    one Decoder per variation is fed only the tokens added since it was last
    looked at, so a preview costs the new tokens of the variations asked for,
    not all tokens of all of them. It also gives the final songs (the same as
    decoding each variation whole), with the chords track when one is asked for."""

    def __init__(self, loaded: LoadedModel, request: GenerateRequest, primer_len: float, primer_used: bool,
                 constraints: Constraints | None = None):
        self.loaded, self.request, self.primer_len, self.primer_used = loaded, request, primer_len, primer_used
        self.chords = constraints.chords if constraints is not None and request.chords_track else None
        self.bars = constraints.bars if constraints is not None else None
        self.decoders = [loaded.tokenizer.decoder(tempo=request.tempo, program=request.program)
                         for _ in range(request.count)]
        self.fed = [0] * request.count       # tokens of each variation already fed

    def songs(self, sequences: list[list[int]], rows=None) -> list[Song]:
        """The songs so far of `rows` (variation indices; None: all) from their token ids."""
        rows = range(len(self.decoders)) if rows is None else rows
        out = []
        for row in rows:
            decoder, tokens = self.decoders[row], sequences[row]
            decoder.feed(tokens[self.fed[row]:])
            self.fed[row] = len(tokens)
            song = _finish(self.loaded, decoder.song(), self.request, self.primer_len, self.primer_used)
            if self.chords is not None:
                kept = self.primer_len if self.primer_used and self.request.keep_primer else 0.0
                song = lead.with_chords(song, self.chords, self.bars, kept)
            out.append(song)
        return out


@dataclass
class Plan:
    """A validated request: everything checked before any sampling starts."""

    seed: int
    prefix: list[int]
    primer_len: float             # beats (melody) or seconds (performance) of the primer
    constraints: Constraints
    unit_total: int               # length per piece in progress units (bars or seconds)
    unit: str = "bar"             # "bar" (melody, frames) or "s" (performance)


def check_for_model(loaded: LoadedModel, request: GenerateRequest) -> None:
    """The rules of a request that depend on the model; raises ComposerError."""
    refuse_drums_model(loaded, "generating a melody")
    if request.time_signature is not None and loaded.tokenizer.kind == "performance":
        num, den = request.time_signature
        raise ComposerError(f"time signature {num}/{den} is for melody models; {loaded.path or 'this model'} is a "
                            "performance model (no meter)")
    lead.check_chords_model(loaded.tokenizer.kind, request, str(loaded.path or "this model"))


def prepare(loaded: LoadedModel, request: GenerateRequest) -> Plan:
    """Check a request against a model without sampling; raises ComposerError
    naming the bad value (request fields, primer, constraints)."""
    request.validate()
    loaded.require_plain("generating")
    check_for_model(loaded, request)
    check_form_model(loaded.tokenizer, request)
    seed = request.seed if request.seed is not None else random.SystemRandom().randrange(2**31)
    prefix, primer_len = _primer_tokens(loaded, request)
    constraints = constraints_for(loaded, request)
    try:
        loaded.tokenizer.grammar(1, constraints, "cpu")
    except ValueError as exc:
        raise ConstraintError(str(exc)) from None
    # progress units: bars for grid representations (melody, frames), seconds for performance
    unit_total = constraints.bars if constraints.bars is not None else math.ceil(constraints.seconds)
    return Plan(seed=seed, prefix=prefix, primer_len=primer_len, constraints=constraints, unit_total=unit_total,
                unit="bar" if constraints.bars is not None else "s")


def generate(loaded: LoadedModel, request: GenerateRequest, progress: ProgressFn | None = None,
             should_stop: ShouldStop | None = None, plan: Plan | None = None) -> GenerationResult:
    """Sample `request.count` pieces, `request.batch_size` of them at a time
    (continuous batching: see composer.model.sampling.sample). Piece i depends on the
    seed and the request, not on the batch size.

    progress(Progress): stage "generating", done/total in bars (melody, frames) or
    seconds (performance) summed over the pieces; `partial(rows=None)` decodes the
    songs so far of the variations `rows` (indices into the request; None: every
    variation started so far), and only those: the app shows one of 64."""
    plan = plan or prepare(loaded, request)
    primer_used = request.primer is not None
    unit_total, primer_len = plan.unit_total, plan.primer_len
    total = unit_total * request.count
    previews = _Previews(loaded, request, primer_len, primer_used, plan.constraints)

    def check_rows(rows):
        rows = list(rows)
        bad = [r for r in rows if not 0 <= r < request.count]
        if bad:
            raise IndexError(f"variation {bad[0]} does not exist (this request makes {request.count})")
        return rows

    def on_step(step, state):
        def partial(rows=None):
            if rows is None:                     # the variations started so far (they start in order)
                rows = range(next((i for i, s in enumerate(state.sequences) if not s), request.count))
            return previews.songs(state.sequences, check_rows(rows))
        progress(Progress(min(int(state.fraction() * total), total), total, plan.unit, "generating",
                          partial=partial))

    grammar = sampling_grammar(loaded.tokenizer, request, plan.constraints, loaded.device)
    sequences = sample(loaded.model, grammar, plan.prefix,
                       request.count, request.sampling(), slots=request.batch_size, seed=plan.seed,
                       prefix_positions=loaded.tokenizer.positions(plan.prefix),
                       on_step=on_step if progress else None, should_stop=should_stop, mark_primed=primer_used)
    songs = previews.songs(sequences)
    notify(progress, total, total, plan.unit, "generating",
           partial=lambda rows=None: list(songs) if rows is None else [songs[r] for r in check_rows(rows)])
    return GenerationResult(songs=songs, seed=plan.seed, tokens=sequences,
                            primer_beats=_in_beats(loaded, primer_len, request) if primer_used and request.keep_primer
                            else 0.0)


def output_paths(out_dir: str | os.PathLike, count: int, *, prefix: str = "melody",
                 seed: int | None = None) -> list[Path]:
    """`count` file paths in `out_dir`; `prefix` is the start of a file name, not a path."""
    if not prefix or any(sep in prefix for sep in ("/", "\\", os.sep)) or prefix in (".", ".."):
        raise ComposerError(f"the file name prefix must be a name without folders, got {prefix!r}")
    out = Path(out_dir)
    tag = f"_s{seed}" if seed is not None else ""
    width = max(3, len(str(count)))
    return [out / f"{prefix}{tag}_{i + 1:0{width}d}.mid" for i in range(count)]


NAME_MAX = 255          # bytes in a file name (Linux, macOS, Windows)


def check_writable(paths: list[Path], *, force: bool, option: str = "--out") -> None:
    """Fail before writing anything if a file would be overwritten silently,
    if the folder to write into is not a folder, or if a path is a device node,
    FIFO, socket or folder (`force` or not); `option` names the choice to change."""
    longest = max(paths, key=lambda p: len(os.fsencode(p.name)), default=None)
    if longest is not None and len(os.fsencode(longest.name)) > NAME_MAX:
        raise ComposerError(f"file name {shown(longest.name[:40])}... is {len(os.fsencode(longest.name))} bytes, "
                            f"the limit is {NAME_MAX}: use a shorter prefix")
    for folder in {p.parent for p in paths}:
        check_folder_target(folder, option)
    for path in paths:
        check_target(path, option)
    if force:
        return
    existing = [p for p in paths if p.exists()]
    if existing:
        more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
        raise ComposerError(f"{existing[0]}{more} already exist(s); use --force to overwrite")


def write_songs(songs: list[Song], paths: list[Path], *, force: bool = False) -> list[Path]:
    """Write each song to its path atomically; refuses to overwrite without `force`."""
    check_writable(paths, force=force)
    for song, path in zip(songs, paths):
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, song_to_bytes(song), force=force)
    return paths


__all__ = ["GenerateRequest", "GenerationResult", "Plan", "prepare", "generate", "write_songs", "output_paths",
           "parse_note_list", "load_primer"]
