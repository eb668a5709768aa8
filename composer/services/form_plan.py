"""Form under the user's control: phrases that come back, cadences, no silent
opening bar (issue 17, `generate --form AABB --phrase-bars 4 --vary`).

A form is a string of letters, one per phrase of `phrase_bars` bars, named in
order of appearance (A first, each new letter the next one: AABB, AABA, ABAB,
ABAC, ABA, AABBCC ...), "free" (no plan), or "auto" (the default): ABAC of
bars/4-bar phrases, with second endings when a phrase has 2 bars or more,
when the new bars are a multiple of 4, else free; of the forms measured it
came closest to the folk corpus's repetition and range at 8, 16 and 32 bars
(docs/form.md). It is carried out by a sampling
grammar (`FormGrammar`, a MelodyGrammar with more state per row), so the
batched, seeded sampler needs no loop of its own and a seed gives the same
pieces at any batch size:

- A phrase whose letter came before (a repeat) may only take the next token
  of that letter's first phrase: sampling copies it and the RNN's state
  follows the music it hears. With `vary` the last max(1, phrase_bars // 4)
  bars of a repeat are sampled afresh (a second ending).
- Cadences, when a key is known: the last beat of a phrase's last bar holds
  one cadence note, struck on the beat or held into it, or its rest (no
  other note sounds into it). The piece's last phrase
  ends on the tonic, a varied repeat too (the second ending closes), every
  other first phrase on a note of the tonic triad (1, 3 or 5: a full or half
  cadence). A first phrase whose plain repeat ends the piece ends on the tonic.
  The key is the request's key/scale; without one, each piece's own, found by
  `composer.analysis.form.key_of_weights` from the notes before each cadence
  bar (primer included). With form "free" the piece ends on the tonic
  only when a key or scale is given.
- Without a primer no note-less opening bar: in the first bar, until a note
  has started, a rest may not reach the bar line (a pickup rest may).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from composer.analysis.form import key_of_weights
from composer.analysis.lead import progression_key
from composer.errors import ComposerError
from composer.music.progression import beat_quarters
from composer.music.scales import SCALES, parse_key, parse_scale
from composer.representations.base import Constraints, Grammar
from composer.representations.melody import HOLD, REST, MelodyGrammar, MelodyTokenizer
from composer.representations.melody.grammar import BAR_KIND, DUR_KIND, EVENT_KIND
from composer.services.defaults import AUTO, DEFAULTS, FORMS, FREE, NAMED_FORMS  # noqa: F401 - re-exported

AUTO_FORM = "ABAC"          # with second endings: measured closest to the folk corpus (docs/form.md)
DEFAULT_PHRASE_BARS = 4
DEFAULT_BARS = DEFAULTS.bars            # a request's length when it gives neither bars nor seconds
MAX_PHRASES = 26
NO_CADENCE, TRIAD, TONIC = 0, 1, 2


def parse_form(text: str | None) -> str:
    """'free', 'auto' or the letters of a form, upper case; raises ComposerError naming the bad form."""
    value = (text or FREE).strip()
    if value.lower() in (FREE, AUTO):
        return value.lower()
    letters = value.upper()
    seen = ""
    for letter in letters:
        if not ("A" <= letter <= "Z") or (letter not in seen and letter != chr(ord("A") + len(seen))):
            raise ComposerError(f"unknown form {text!r}: use {', '.join(FORMS)}, or phrase letters "
                                "in order of appearance (A first, each new letter the next, e.g. ABA)")
        seen += "" if letter in seen else letter
    if len(letters) > MAX_PHRASES:
        raise ComposerError(f"form {text!r} has {len(letters)} phrases, at most {MAX_PHRASES} are allowed")
    return letters


@dataclass(frozen=True)
class FormSpec:
    """A form of `letters` (one per phrase) with phrases of `phrase_bars` bars."""

    letters: str
    phrase_bars: int
    vary: bool = False
    detect_key: bool = True      # without a key, cadence in each piece's own detected key

    @property
    def bars(self) -> int:
        return len(self.letters) * self.phrase_bars

    @property
    def vary_bars(self) -> int:
        """Bars at the end of a repeated phrase that are sampled afresh."""
        return max(1, self.phrase_bars // 4) if self.vary else 0

    def spans(self, first_bar: int = 1) -> list[tuple[str, int, int]]:
        """(letter, first bar, last bar) of each phrase, bars 1-based and inclusive,
        the first phrase starting at `first_bar` (after a primer's bars)."""
        P = self.phrase_bars
        return [(letter, first_bar + s * P, first_bar + s * P + P - 1) for s, letter in enumerate(self.letters)]

    def sources(self) -> np.ndarray:
        """For each phrase, the index of the first phrase with its letter (S,)."""
        return np.array([self.letters.index(letter) for letter in self.letters], dtype=np.int64)

    def repeats(self) -> np.ndarray:
        """Which phrases bring back an earlier one (S,) bool."""
        return self.sources() != np.arange(len(self.letters))

    def cadences(self) -> np.ndarray:
        """The cadence each phrase's last bar must make (S,): NO_CADENCE (a plain
        repeat: it copies its source's), TRIAD or TONIC (module docstring)."""
        source, repeat = self.sources(), self.repeats()
        kind = np.where(repeat, TONIC if self.vary else NO_CADENCE, TRIAD)
        last = len(self.letters) - 1
        kind[source[last] if repeat[last] and not self.vary else last] = TONIC
        return kind


def check_form(request) -> FormSpec | None:
    """Check a request's `form`, `phrase_bars`, `vary` against its length and
    fill in `request.bars` when it is None (a named form's own length); returns
    the FormSpec (auto: see auto_form), or None for free. Raises ComposerError naming the bad
    value. The one place these rules live (GenerateRequest.validate calls it)."""
    form = parse_form(request.form)
    phrase_bars = request.phrase_bars
    if form in (FREE, AUTO):
        if phrase_bars is not None or request.vary:
            raise ComposerError("phrase bars and vary belong to a form: choose one such as AABB, or leave them out"
                                + (" (auto plans its own phrases, without second endings)" if form == AUTO else ""))
        form = auto_form(request.bars, request.seconds) if form == AUTO else FREE
        if form == FREE:
            return None
        phrase_bars = (request.bars or DEFAULT_BARS) // len(form)
        return FormSpec(form, phrase_bars, vary=phrase_bars >= 2)     # second endings where a phrase has room
    if phrase_bars is not None and phrase_bars < 1:
        raise ComposerError(f"phrase bars must be >= 1, got {phrase_bars}")
    if request.seconds is not None:
        raise ComposerError(f"form {form} needs its length in bars, not seconds: give bars or phrase bars")
    phrases = len(form)
    if request.bars is None:
        request.bars = phrases * (phrase_bars or DEFAULT_PHRASE_BARS)
    bars = request.bars
    if phrase_bars is None:
        if bars < phrases or bars % phrases:
            raise ComposerError(f"{bars} bars do not split into the {phrases} phrases of form {form}: "
                                f"ask for a multiple of {phrases} bars, or give the phrase length")
        phrase_bars = bars // phrases
    elif bars != phrases * phrase_bars:
        raise ComposerError(f"form {form} of {phrase_bars}-bar phrases is {phrases * phrase_bars} bars, "
                            f"but {bars} bars were asked for: ask for {phrases * phrase_bars} or leave the length out")
    if request.vary and phrase_bars < 2:
        raise ComposerError("vary rewrites the last bar of a repeated phrase: it needs phrases of >= 2 bars, "
                            f"got {phrase_bars}")
    return FormSpec(form, phrase_bars, bool(request.vary))


def auto_form(bars: int | None, seconds: float | None = None) -> str:
    """What form auto is for a request of `bars` new bars (None: DEFAULT_BARS,
    unless a length in `seconds` is given): AUTO_FORM when they split into
    its phrases of >= 1 bar, else free. A primer does not change it: a form
    is planned over the new bars."""
    if seconds is not None and bars is None:
        return FREE
    bars = DEFAULT_BARS if bars is None else bars
    return AUTO_FORM if bars >= len(AUTO_FORM) and bars % len(AUTO_FORM) == 0 else FREE


def planned_form(tokenizer, request) -> FormSpec | None:
    """The form a model samples `request` with: None for free, and for a model
    that is not a melody model (auto is free there; other forms are refused
    by check_form_model)."""
    return check_form(request) if isinstance(tokenizer, MelodyTokenizer) else None


def check_form_model(tokenizer, request) -> None:
    """A form other than free or auto needs a melody model (bars to count)."""
    form = parse_form(request.form)
    if form not in (FREE, AUTO) and not isinstance(tokenizer, MelodyTokenizer):
        raise ComposerError(f"form {form} needs a melody model; this is a {tokenizer.kind} model: use form free")


def request_key(key: str | None, scale: str | None) -> tuple[int, bool] | None:
    """(tonic pitch class, minor) of a key/scale request; None when neither is given.
    A scale with a minor third and no major third is minor."""
    if key is None and scale is None:
        return None
    intervals = parse_scale(scale) if scale is not None else SCALES["major"]
    return (parse_key(key) if key is not None else 0), (3 in intervals and 4 not in intervals)


def sampling_grammar(tokenizer, request, constraints: Constraints, device) -> Grammar:
    """The grammar `generate` samples a request with: the representation's own,
    for melody a FormGrammar when there is a form to plan or a key to end on."""
    key = request_key(request.key, request.scale) if isinstance(tokenizer, MelodyTokenizer) else None
    if key is None and constraints.chords is not None:     # over chords: cadences in the chords' key
        key = progression_key(constraints.chords)
    spec = planned_form(tokenizer, request)
    if spec is None and key is None:        # free: the melody grammar's own (no silent opening bar) suffices
        return tokenizer.grammar(1, constraints, device)
    return FormGrammar(tokenizer, 1, constraints, device, spec or FormSpec("A", constraints.bars, detect_key=False),
                       key)


def beat_steps(time_signature: tuple[int, int], steps_per_quarter: int) -> int:
    """Grid steps of one beat: three of the denominator's notes in compound meters
    (6/8, 9/8, 12/8, 6/4, 12/16 ...: a numerator of 6, 9, 12 ... over 4 or shorter), else one."""
    return max(1, round(steps_per_quarter * beat_quarters(time_signature)))


class FormGrammar(MelodyGrammar):
    """A melody grammar that carries out a FormSpec (module docstring). New
    bars are counted as MelodyGrammar counts them (from the primer's end);
    phrase s is new bars s*P .. s*P+P-1 for P = phrase_bars."""

    row_state = MelodyGrammar.row_state + (
        "record", "reclen", "section", "section_start", "last_pitch", "pending_pitch",
        "pc_weight", "tonic", "minor", "cadence_on", "cadence_pcs", "beat")

    def __init__(self, tok: MelodyTokenizer, batch: int, constraints: Constraints, device, spec: FormSpec,
                 key: tuple[int, bool] | None = None):
        super().__init__(tok, batch, constraints, device)
        if spec.bars != self.bars_wanted:
            raise ValueError(f"form {spec.letters} of {spec.phrase_bars}-bar phrases is {spec.bars} bars, "
                             f"the grammar makes {self.bars_wanted}")
        c = tok.config
        self.spec, self.key = spec, key
        self.source, self.is_repeat, self.cadence_kind = spec.sources(), spec.repeats(), spec.cadences()
        self.phrase_bars, self.vary_bars = spec.phrase_bars, spec.vary_bars
        # the tokens of every phrase up to the last one a repeat copies from; a bar is at most
        # <bar> + (event, duration) per grid step
        sources = self.source[self.is_repeat]
        self.cap = 0 if not len(sources) else int(sources.max() + 1) * spec.phrase_bars * (1 + 2 * c.max_bar_steps)
        S = len(spec.letters)
        self._note_pcs = np.arange(c.pitch_low, c.pitch_high + 1) % 12                 # (N,) of the note tokens
        allowed = self.allowed_notes()
        self._pc_available = np.zeros(12, dtype=bool)                                   # an allowed note has it
        self._pc_available[self._note_pcs[allowed]] = True
        self.record = np.zeros((batch, self.cap), dtype=np.int16)     # tokens from the first phrase on
        self.reclen = np.zeros(batch, dtype=np.int64)                 # tokens since the first phrase began
        self.section = np.full(batch, -1, dtype=np.int64)             # the phrase being written, -1 before
        self.section_start = np.zeros((batch, S), dtype=np.int64)     # where each phrase starts in `record`
        self.last_pitch = np.full(batch, -1, dtype=np.int64)          # the last note sounded (a hold extends it)
        self.pending_pitch = np.full(batch, -1, dtype=np.int64)       # ... once the pending event's duration comes
        self.pc_weight = np.zeros((batch, 12))                        # grid steps sounded per pitch class
        self.tonic = np.full(batch, -1 if key is None else key[0], dtype=np.int64)
        self.minor = np.full(batch, bool(key and key[1]), dtype=bool)
        self.cadence_on = np.zeros(batch, dtype=bool)                 # this bar must end on a cadence note
        self.cadence_pcs = np.zeros((batch, 12), dtype=bool)          # ... one of these pitch classes
        self._beat_of = np.array([[beat_steps((n, d), c.steps_per_quarter) if n and d else 1   # [num, den]
                                   for d in range(33)] for n in range(33)], dtype=np.int64)
        self.beat = np.full(batch, beat_steps(self.fixed_ts or (4, 4), c.steps_per_quarter), dtype=np.int64)

    def mark_primed(self) -> None:
        """After the primer: phrases, cadences and the key start afresh (the primer's notes
        still count towards the detected key)."""
        super().mark_primed()
        self.reclen[:] = 0
        self.section[:] = -1
        self.cadence_on[:] = False
        self.tonic[:] = -1 if self.key is None else self.key[0]
        self.minor[:] = bool(self.key and self.key[1])

    def _tail(self) -> np.ndarray:
        """Grid steps at the end of a cadence bar that only a cadence note may sound in:
        the meter's last beat, at most half the bar (B,)."""
        return np.minimum(self.beat, self.spb // 2)

    def mask(self) -> torch.Tensor:
        m = self.allowed()              # (B, V) bool: the melody grammar's rules, no silent opening bar included
        tok, ph, j = self.tok, self.phase, self.bars_done - self.bars_base
        need_bar = (ph == self.EVENT) & (self.pos == 0) & ~self.bar_open
        inside = ((ph == self.EVENT) | (ph == self.DURATION)) & (j >= 0) & (j < self.bars_wanted) & ~need_bar
        remaining = self.spb - self.pos
        event, duration = inside & (ph == self.EVENT), inside & (ph == self.DURATION)
        if self.cap:                                                       # repeats copy their source
            section = np.maximum(self.section, 0)
            copying = (inside & (self.section >= 0) & (j // self.phrase_bars == self.section)
                       & self.is_repeat[section] & (j % self.phrase_bars < self.phrase_bars - self.vary_bars))
            rows = np.flatnonzero(copying)
            if len(rows):
                offset = self.reclen[rows] - self.section_start[rows, section[rows]]
                at = self.section_start[rows, self.source[section[rows]]] + offset
                token = self.record[rows, np.minimum(at, self.cap - 1)].astype(np.int64)
                ok = (at < self.cap) & m[rows, token]
                m[rows[ok]] = False
                m[rows[ok], token[ok]] = True
        tail = self._tail()
        rows = np.flatnonzero(event & self.cadence_on & (remaining <= tail))
        if len(rows):                                                      # the last beat: one cadence note
            pcs = self.cadence_pcs[rows]                                   # (R, 12)
            pcs = pcs & (remaining[rows] == tail[rows])[:, None]           # ... starting on the beat, or held
            m[rows, tok.note_base:tok.dur_base] &= pcs[:, self._note_pcs]
            last = self.last_pitch[rows]
            silent_ok = (last >= 0) & self.cadence_pcs[rows, np.maximum(last, 0) % 12]
            m[rows[~silent_ok], REST] = False
            m[rows[~silent_ok], HOLD] = False
        rows = np.flatnonzero(duration & self.cadence_on)
        if len(rows):                                                      # other notes end before it
            pitch = self.pending_pitch[rows]
            ok = (pitch >= 0) & self.cadence_pcs[rows, np.maximum(pitch, 0) % 12]
            rows = rows[~ok]
            longest = remaining[rows] - tail[rows]                         # >= 1: see the event rule
            for row, k in zip(rows.tolist(), longest.tolist()):
                m[row, tok.dur_base + max(k, 1):] = False
        return torch.from_numpy(m).to(self.device)

    def update(self, tokens: torch.Tensor) -> None:
        t = tokens.detach().to("cpu", torch.long).numpy()                 # (B,)
        kind, ph, j = self._kind[t], self.phase, self.bars_done - self.bars_base
        event = (ph == self.EVENT) & (kind == EVENT_KIND)
        note = event & (self._note_pitch[t] >= 0)
        self.pending_pitch = np.where(note, self._note_pitch[t], np.where(event, self.last_pitch, self.pending_pitch))
        sounding = (ph == self.DURATION) & (kind == DUR_KIND) & ~self.pending_rest & (self.pending_pitch >= 0)
        rows = np.flatnonzero(sounding)
        np.add.at(self.pc_weight, (rows, self.pending_pitch[rows] % 12), self._steps[t[rows]])
        self.last_pitch = np.where(sounding, self.pending_pitch, self.last_pitch)
        meter, num, den = self.meter_update(ph, kind, t)
        self.beat = np.where(meter, self._beat_of[np.minimum(num, 32), np.minimum(den, 32)], self.beat)
        bar = (ph == self.EVENT) & (kind == BAR_KIND) & (j >= 0) & (j < self.bars_wanted)
        if bar.any():
            self._start_bar(np.flatnonzero(bar), j)
        writing = self.section >= 0
        rows = np.flatnonzero(writing & (self.reclen < self.cap))
        self.record[rows, self.reclen[rows]] = t[rows]
        self.reclen += writing                        # (counted on past `cap`: later phrases start there)
        super().update(tokens)

    def _start_bar(self, rows: np.ndarray, j: np.ndarray) -> None:
        """A <bar> token opens new bar j[row] of `rows`: phrase and cadence bookkeeping."""
        P = self.phrase_bars
        self.cadence_on[rows] = False
        first = rows[j[rows] % P == 0]
        self.section[first] = j[first] // P
        self.section_start[first, j[first] // P] = self.reclen[first]
        for row in rows[j[rows] % P == P - 1].tolist():
            kind = self.cadence_kind[j[row] // P]
            if kind == NO_CADENCE:
                continue
            if self.key is None and self.spec.detect_key:      # again each time: more notes, a surer key
                found = key_of_weights(self.pc_weight[row])
                if found is not None:
                    self.tonic[row], self.minor[row] = found[0], found[1] == "minor"
            if self.tonic[row] < 0:
                continue
            tonic = int(self.tonic[row])
            wanted = [tonic] if kind == TONIC else [tonic, tonic + (3 if self.minor[row] else 4), tonic + 7]
            pcs = np.zeros(12, dtype=bool)
            pcs[np.array(wanted) % 12] = True
            if self.chord_rule is not None:           # over chords: a tone of the chord on the cadence beat
                pcs = self.chord_rule.fit_cadence(self, row, int(self.spb[row] - self._tail()[row]), pcs)
            pcs &= self._pc_available
            self.cadence_on[row] = pcs.any()          # no such note in the allowed range: no cadence
            self.cadence_pcs[row] = pcs


__all__ = ["FORMS", "FREE", "AUTO", "AUTO_FORM", "NAMED_FORMS", "DEFAULT_BARS", "DEFAULT_PHRASE_BARS", "FormSpec",
           "FormGrammar", "parse_form", "check_form", "auto_form", "planned_form", "check_form_model", "request_key",
           "sampling_grammar"]
