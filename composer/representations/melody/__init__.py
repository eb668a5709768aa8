"""The melody representation: one monophonic line on a grid.

Tokens (after <pad> <bos> <eos>):
  num:N den:D  the meter N/D right after <bos>, and again before the bar where it changes
  bar       start of every bar
  note:P    a note of MIDI pitch P ... followed by its duration
  rest      silence ...                followed by its duration
  hold      continue the previous note or rest (across a bar line, or past the longest duration)
  dur:K     K grid steps (1 .. `longest_quarters` quarter notes, default 8)

A piece is <bos> meter bar (event dur)+ bar (event dur)+ ... <eos>. Events never
cross a bar line (a long note becomes note + hold), so the number of bars is
exact and a sampler can count them.

Meters: any a MIDI file states, N 1-32 and D one of 1, 2, 4, 8, 16, 32, whose
bar is at most 8 whole notes (32/4, 16/2: MAX_BAR_QUARTERS; longer bars are
not music a melody model learns from) and a whole number of grid steps (3/32
is not, at 4 steps per quarter). A change must fall on a bar line of the
meter before it; music from a change that does not, or to a meter that cannot
be written, is cut off. A config with `time_signatures` (model files made
before any meter) has one token `ts:N/D` per listed meter instead, knows only
those, and cuts the music at any meter change.

Melody policy (how one line is taken from a multi-track file), see
`MelodyConfig`: drum tracks are ignored; unless `track` names one, the chosen
track is the one with the highest mean pitch among tracks that have at least
a third as many onsets as the busiest track (the tune is usually the top
voice); chords are reduced to their highest note (`chords="highest"`) or
lowest (`"lowest"`); each note is cut where the next one starts.
"""
from composer.representations.melody.config import BAR, HOLD, REST, SPECIALS, MelodyConfig
from composer.representations.melody.decoder import MelodyDecoder
from composer.representations.melody.grammar import MelodyGrammar
from composer.representations.melody.tokenizer import MelodyTokenizer

__all__ = ["BAR", "HOLD", "REST", "SPECIALS", "MelodyConfig", "MelodyDecoder", "MelodyGrammar", "MelodyTokenizer"]
