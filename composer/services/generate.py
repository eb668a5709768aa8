"""The generation service: one request in, songs out.

`generate(loaded, request, progress, should_stop)` is what the CLI runs under
a progress bar and the GUI runs on a worker thread.
"""
from __future__ import annotations

import math
import os
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from composer.errors import ComposerError, ConstraintError
from composer.model.modelfile import LoadedModel
from composer.model.sampling import SamplingConfig, sample
from composer.music.midifile import read_midi, song_to_bytes, write_atomic
from composer.music.scales import allowed_pitch_classes
from composer.music.song import Note, Song, melody_song
from composer.representations.base import BOS, Constraints, UnusableMusic
from composer.representations.frames import FramesTokenizer
from composer.representations.melody import MelodyTokenizer
from composer.representations.performance import PerformanceTokenizer
from composer.safe_write import check_folder_target, check_target
from composer.services.form_plan import check_form, check_form_model, sampling_grammar

MAX_COUNT = 10_000


@dataclass
class GenerateRequest:
    """Everything a user can ask of one generation run."""

    count: int = 1
    bars: int | None = 8                 # melody length in new bars
    seconds: float | None = None         # performance length (or melody length, converted to bars)
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    seed: int | None = None              # None: a fresh seed, reported in the result
    primer: str | os.PathLike | Song | list[Note] | None = None
    keep_primer: bool = True
    key: str | None = None
    scale: str | None = None
    pitch_low: int = 0
    pitch_high: int = 127
    tempo: float = 120.0
    program: int = 0                     # General MIDI program 0..127
    time_signature: tuple[int, int] | None = None   # melody: None lets the model choose
    batch_size: int = 64
    form: str = "free"                   # melody: "free" or phrase letters, e.g. AABB (services.form_plan)
    phrase_bars: int | None = None       # bars per phrase; None: bars / phrases (or 4 when bars is None)
    vary: bool = False                   # a repeated phrase gets a second ending

    def validate(self) -> None:
        check_form(self)                 # (fills in bars from the form when bars is None)
        if not 1 <= self.count <= MAX_COUNT:
            raise ComposerError(f"count must be in 1..{MAX_COUNT}, got {self.count}")
        if self.bars is not None and not 1 <= self.bars <= 1000:
            raise ComposerError(f"bars must be in 1..1000, got {self.bars}")
        if self.seconds is not None and not 0 < self.seconds <= 3600:
            raise ComposerError(f"seconds must be in (0, 3600], got {self.seconds}")
        if not 10 <= self.tempo <= 400:
            raise ComposerError(f"tempo must be in 10..400 bpm, got {self.tempo}")
        if not 0 <= self.program <= 127:
            raise ComposerError(f"program must be a General MIDI program 0..127, got {self.program}")
        if self.batch_size < 1:
            raise ComposerError(f"batch size must be >= 1, got {self.batch_size}")
        check_sampling_controls(self)

    def sampling(self) -> SamplingConfig:
        return SamplingConfig(temperature=self.temperature, top_k=self.top_k, top_p=self.top_p)


def check_sampling_controls(request) -> None:
    """The checks every request with seed, temperature/top-k/top-p (its
    `sampling()`) and key/scale shares (GenerateRequest, InfillRequest);
    raises ComposerError / ConstraintError naming the bad value."""
    if request.seed is not None and not 0 <= request.seed < 2**63:
        raise ComposerError(f"seed must be in 0..2**63-1, got {request.seed}")
    try:
        request.sampling()
    except ValueError as exc:
        raise ComposerError(str(exc)) from None
    allowed_pitch_classes(request.key, request.scale)   # raises ConstraintError naming the bad value


@dataclass
class GenerationResult:
    songs: list[Song]
    seed: int
    tokens: list[list[int]] = field(default_factory=list)
    primer_beats: float = 0.0            # where new music starts in each song (0 if primer dropped)


# progress(done, total, partial): done/total in the length unit requested
# (bars for melody, seconds for performance); partial(rows=None) decodes the
# songs so far of the variations `rows` (indices into the request; None: every
# variation started so far), and only those: the app shows one of 64.
ProgressCallback = Callable[[int, int, Callable[..., list[Song]]], None]


_LETTER = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_PRIMER_NOTE = re.compile(r"^(?P<name>[A-Ga-g][#b]?-?\d|R|r|\d{1,3})(?::(?P<beats>\d+(?:\.\d+)?(?:/\d+)?))?$")


def parse_note_list(text: str) -> list[Note]:
    """A short primer written as text: 'C4:1 D4:0.5 R:0.5 E4:2' (name or MIDI
    number, ':' beats, default 1; R is a rest)."""
    notes, beat = [], 0.0
    for item in text.replace(",", " ").split():
        match = _PRIMER_NOTE.match(item)
        if not match:
            raise ComposerError(f"primer note {item!r} is not NAME[:BEATS] (e.g. C4:1, F#5:0.5, R:1, 60:2)")
        beats_text = match["beats"] or "1"
        num, _, den = beats_text.partition("/")
        if den and float(den) == 0:
            raise ComposerError(f"primer note {item!r} divides by zero beats")
        beats = float(num) / float(den or 1)
        if beats <= 0:
            raise ComposerError(f"primer note {item!r} must last > 0 beats")
        name = match["name"]
        if name not in ("R", "r"):
            if name.isdigit():
                pitch = int(name)
            else:                                 # Cb4 is B3 (59), B#3 is C4 (60): the letter names the octave
                letter, accidental, octave = name[0].upper(), name[1:2] if name[1:2] in ("#", "b") else "", \
                    int(re.sub(r"^[A-Ga-g][#b]?", "", name))
                pitch = _LETTER[letter] + {"#": 1, "b": -1}.get(accidental, 0) + 12 * (octave + 1)
            if not 0 <= pitch <= 127:
                raise ComposerError(f"primer note {item!r} is outside MIDI pitch 0..127")
            notes.append(Note(beat, beat + beats, pitch))
        beat += beats
    if not notes:
        raise ComposerError("primer note list has no notes")
    return notes


def load_primer(primer) -> Song:
    """A primer given as a path to a MIDI file, a note-list string, a Song or notes."""
    if isinstance(primer, Song):
        return primer
    if isinstance(primer, list):
        return melody_song(primer)
    path = Path(primer)
    if path.exists():
        return read_midi(path)
    if isinstance(primer, str) and not primer.lower().endswith((".mid", ".midi", ".kar")):
        return melody_song(parse_note_list(primer))
    raise ComposerError(f"primer file {primer} does not exist")


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
                                    f"{request.time_signature[1]} was requested")
            if ts not in [tuple(t) for t in tok.config.time_signatures]:
                raise ComposerError(f"the primer's time signature {ts[0]}/{ts[1]} is not one this model knows")
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
    try:
        return Constraints(bars=bars, seconds=seconds, pitch_classes=pcs,
                           pitch_low=request.pitch_low, pitch_high=request.pitch_high,
                           time_signature=request.time_signature)
    except ComposerError as exc:
        raise ConstraintError(str(exc)) from None


def _finish(loaded: LoadedModel, song: Song, request: GenerateRequest, primer_len: float,
            primer_used: bool) -> Song:
    """A decoded sequence with the primer dropped if asked."""
    tok = loaded.tokenizer
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
    decoding each variation whole)."""

    def __init__(self, loaded: LoadedModel, request: GenerateRequest, primer_len: float, primer_used: bool):
        self.loaded, self.request, self.primer_len, self.primer_used = loaded, request, primer_len, primer_used
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
            out.append(_finish(self.loaded, decoder.song(), self.request, self.primer_len, self.primer_used))
        return out


@dataclass
class Plan:
    """A validated request: everything checked before any sampling starts."""

    seed: int
    prefix: list[int]
    primer_len: float             # beats (melody) or seconds (performance) of the primer
    constraints: Constraints
    unit_total: int               # length per piece in progress units (bars or seconds)


def prepare(loaded: LoadedModel, request: GenerateRequest) -> Plan:
    """Check a request against a model without sampling; raises ComposerError
    naming the bad value (request fields, primer, constraints)."""
    request.validate()
    loaded.require_plain("generating")
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
    return Plan(seed=seed, prefix=prefix, primer_len=primer_len, constraints=constraints, unit_total=unit_total)


def generate(loaded: LoadedModel, request: GenerateRequest,
             progress: ProgressCallback | None = None,
             should_stop: Callable[[], bool] | None = None,
             plan: Plan | None = None) -> GenerationResult:
    """Sample `request.count` pieces, `request.batch_size` of them at a time
    (continuous batching: see composer.model.sampling.sample). Piece i depends on the
    seed and the request, not on the batch size."""
    plan = plan or prepare(loaded, request)
    primer_used = request.primer is not None
    unit_total, primer_len = plan.unit_total, plan.primer_len
    total = unit_total * request.count
    previews = _Previews(loaded, request, primer_len, primer_used)

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
        progress(min(int(state.fraction() * total), total), total, partial)

    grammar = sampling_grammar(loaded.tokenizer, request, plan.constraints, loaded.device)
    sequences = sample(loaded.model, grammar, plan.prefix,
                       request.count, request.sampling(), slots=request.batch_size, seed=plan.seed,
                       prefix_positions=loaded.tokenizer.positions(plan.prefix),
                       on_step=on_step if progress else None, should_stop=should_stop, mark_primed=primer_used)
    songs = previews.songs(sequences)
    if progress is not None:
        progress(total, total, lambda rows=None: list(songs) if rows is None else [songs[r] for r in check_rows(rows)])
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
    longest = max(paths, key=lambda p: len(p.name.encode()), default=None)
    if longest is not None and len(longest.name.encode()) > NAME_MAX:
        raise ComposerError(f"file name {longest.name[:40]}... is {len(longest.name.encode())} bytes, "
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
