"""The melody sampling grammar (composer/representations/melody/grammar.py, MelodyGrammar) against a
one-sequence reference written straight from the rules in its docstring, on
random token streams: mostly tokens the grammar allows (as a sampler writes
them), some arbitrary ones (as a corpus or a primer may hold)."""
import random

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from composer.representations.base import BOS, EOS, PAD, Constraints
from composer.representations.melody import BAR, HOLD, REST, MelodyConfig, MelodyTokenizer
from composer.representations.melody.config import DENOMINATORS, LISTED_METERS

# (grid steps per quarter, listed meters or any meter)
TOKENIZERS = {(spq, listed): MelodyTokenizer(MelodyConfig(steps_per_quarter=spq,
                                                          time_signatures=LISTED_METERS if listed else None))
              for spq in (2, 4, 12) for listed in (False, True)}
SOME_METERS = ((7, 8), (6, 4), (3, 2), (5, 8), (11, 8), (4, 4), (2, 16), (32, 4))


class ReferenceMelodyGrammar:
    """One sequence in plain Python: <bos> meter bar (event dur)+ ... <eos>, then <pad>; the
    meter is a listed meter's token, or a numerator and a denominator token that make a meter
    (a numerator starts a meter change after a duration too: followed, never offered);
    unprimed, no rest may fill the first bar before a note."""

    def __init__(self, tok: MelodyTokenizer, constraints: Constraints):
        c = tok.config
        self.tok, self.bars_wanted = tok, constraints.bars
        self.fixed_ts = constraints.time_signature
        self.phase, self.pos, self.bars_done, self.bars_base = "start", 0, 0, 0
        self.spb = c.steps_per_bar(self.fixed_ts or (4, 4))
        self.has_prev = self.bar_open = self.primed = self.sounded = self.pending_rest = False
        self.num = 0
        self.notes = {tok.note_token(p) for p in range(c.pitch_low, c.pitch_high + 1) if constraints.pitch_ok(p)}

    def allowed(self) -> set[int]:
        tok = self.tok
        if self.phase == "start":
            return {BOS}
        if self.phase == "meter":
            if self.fixed_ts:
                return {tok.meter_tokens(self.fixed_ts)[0]}
            return set(range(tok.ts_base, tok.den_base if tok.config.any_meter else tok.note_base))
        if self.phase == "denominator":
            if self.fixed_ts and self.num == self.fixed_ts[0]:
                return {tok.meter_tokens(self.fixed_ts)[1]}
            return {tok.den_base + i for i, d in enumerate(DENOMINATORS) if not tok.config.meter_problem((self.num, d))}
        if self.phase == "finished":
            return {PAD}
        if self.phase == "event":
            if self.pos == 0 and not self.bar_open:          # a bar starts here
                return {EOS} if self.bars_done - self.bars_base >= self.bars_wanted else {BAR}
            silent_opening = self.opening() and self.spb - self.pos == 1
            return self.notes | (set() if silent_opening else {REST} | ({HOLD} if self.has_prev else set()))
        left = min(max(self.spb - self.pos, 1), tok.config.max_duration)   # steps left in the bar
        fills = self.spb - self.pos if self.opening() and self.pending_rest and self.spb - self.pos >= 2 else None
        return {tok.dur_token(k) for k in range(1, left + 1) if k != fills}

    def opening(self) -> bool:
        return not self.primed and not self.sounded and self.bars_done == 0

    def update(self, t: int) -> None:
        tok = self.tok
        if t == EOS or (t == PAD and self.phase != "start"):
            self.phase = "finished"
        elif self.phase == "start" and t == BOS:
            self.phase = "meter"
        elif self.phase == "meter" and tok.ts_base <= t < tok.note_base and not tok.config.any_meter:
            self.spb = tok.config.steps_per_bar(tuple(tok.config.time_signatures[t - tok.ts_base]))
            self.phase = "event"
        elif self.phase in ("meter", "event") and tok.config.any_meter and tok.ts_base <= t < tok.den_base:
            self.num, self.phase = t - tok.ts_base + 1, "denominator"
        elif self.phase == "denominator" and tok.den_base <= t < tok.note_base:
            self.spb = max(1, self.num * 4 * tok.config.steps_per_quarter // DENOMINATORS[t - tok.den_base])
            self.phase = "event"
        elif self.phase == "event" and t == BAR:
            self.bar_open = True
        elif self.phase == "event" and (t in (REST, HOLD) or tok.is_note(t)):
            self.phase, self.bar_open = "duration", False
            self.sounded |= tok.is_note(t)
            self.pending_rest = self.pending_rest if t == HOLD else t == REST
        elif self.phase == "duration" and tok.is_dur(t):
            self.pos += t - tok.dur_base + 1
            self.has_prev = True
            if self.pos >= self.spb:
                self.bars_done, self.pos = self.bars_done + 1, 0
            self.phase = "event"

    def mark_primed(self) -> None:
        self.bars_base = self.bars_done + (self.pos > 0)
        self.primed = True

    def position(self) -> int:
        return min(self.pos, self.tok.config.max_duration - 1)

    def progress(self) -> float:
        return min(1.0, (max(self.bars_done - self.bars_base, 0) + self.pos / self.spb) / self.bars_wanted)


def random_constraints(rng: random.Random, tok: MelodyTokenizer) -> Constraints:
    c = tok.config
    low = rng.randrange(c.pitch_low, c.pitch_high - 12)
    return Constraints(bars=rng.randint(1, 4), pitch_low=low, pitch_high=rng.randint(low + 12, 127),
                       pitch_classes=rng.choice([None, frozenset({0, 2, 4, 5, 7, 9, 11}), frozenset({1, 6})]),
                       time_signature=rng.choice([None, None, *(c.time_signatures or SOME_METERS)]))


def any_token(rng: random.Random, tok: MelodyTokenizer) -> int:
    """Half the time one of the structural tokens, where the rules have their edge cases."""
    if rng.random() < 0.5:
        return rng.choice([PAD, BOS, EOS, BAR, REST, HOLD, tok.ts_base, tok.ts_base + 6, tok.note_base - 1,
                           tok.dur_base, tok.vocab_size - 1])
    return rng.randrange(tok.vocab_size)


def check_agrees(grammar, refs) -> None:
    mask = grammar.mask()
    assert mask.dtype == torch.bool and mask.shape == (len(refs), grammar.tok.vocab_size)
    for row, ref in enumerate(refs):
        assert set(torch.nonzero(mask[row]).flatten().tolist()) == ref.allowed(), f"row {row} in {ref.phase}"
    assert grammar.positions().tolist() == [ref.position() for ref in refs]
    assert grammar.done.tolist() == [ref.phase == "finished" for ref in refs]
    assert grammar.progress() == pytest.approx(min(ref.progress() for ref in refs), rel=1e-6)


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), spq=st.sampled_from(sorted(TOKENIZERS)), batch=st.integers(1, 5),
       off_grammar=st.sampled_from([0.0, 0.05, 0.3]), primer=st.integers(0, 40))
def test_masks_match_the_reference_on_random_token_streams(seed, spq, batch, off_grammar, primer):
    rng = random.Random(seed)
    tok = TOKENIZERS[spq]
    constraints = random_constraints(rng, tok)
    grammar = tok.grammar(batch, constraints, "cpu")
    refs = [ReferenceMelodyGrammar(tok, constraints) for _ in range(batch)]
    for step in range(300):
        if step == primer:
            grammar.mark_primed()
            for ref in refs:
                ref.mark_primed()
        check_agrees(grammar, refs)
        if all(ref.phase == "finished" for ref in refs):
            break
        tokens = [any_token(rng, tok) if rng.random() < off_grammar else rng.choice(sorted(ref.allowed()))
                  for ref in refs]
        grammar.update(torch.tensor(tokens))
        for ref, t in zip(refs, tokens):
            ref.update(t)


def test_a_stream_the_grammar_allows_ends_with_exactly_the_bars_wanted():
    tok = TOKENIZERS[4, False]
    rng = random.Random(3)
    grammar = tok.grammar(3, Constraints(bars=5), "cpu")
    rows = [[] for _ in range(3)]
    while not bool(grammar.done.all()):
        mask = grammar.mask()
        tokens = [rng.choice(torch.nonzero(mask[r]).flatten().tolist()) for r in range(3)]
        grammar.update(torch.tensor(tokens))
        for row, t in zip(rows, tokens):
            row.append(t)
    for row in rows:
        assert tok.decode_notes(row)[2] == 5
        assert row.count(BAR) == 5 and row[row.index(EOS):] == [EOS] + [PAD] * (len(row) - row.index(EOS) - 1)


def test_the_mask_is_on_the_grammars_device_and_tokens_may_be_a_strided_column():
    tok = TOKENIZERS[4, False]
    assert tok.grammar(2, Constraints(bars=1), "meta").mask().device.type == "meta"
    grammar = tok.grammar(2, Constraints(bars=1), "cpu")
    grammar.update(torch.tensor([BOS]).expand(2))                       # a primer column: stride 0
    grammar.update(torch.tensor([[tok.meter_tokens((3, 4))[0], PAD], [tok.meter_tokens((4, 4))[0], PAD]])[:, 0])
    grammar.update(torch.tensor([[tok.meter_tokens((3, 4))[1], PAD], [tok.meter_tokens((4, 4))[1], PAD]])[:, 0])
    grammar.update(torch.tensor([BAR, BAR]))
    grammar.update(torch.tensor([tok.note_token(60), tok.note_token(60)]))
    longest = [max(torch.nonzero(row).flatten().tolist()) - tok.dur_base + 1 for row in grammar.mask()]
    assert longest == [12, 16]                                          # a bar of 3/4 and one of 4/4
