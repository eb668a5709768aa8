"""The melody representation: one monophonic line on a grid.

Tokens (after <pad> <bos> <eos>):
  ts:N/D    the meter, once, right after <bos>
  bar       start of every bar
  note:P    a note of MIDI pitch P ... followed by its duration
  rest      silence ...                followed by its duration
  hold      continue the previous note or rest across a bar line ...
  dur:K     K grid steps (1 .. steps in the longest bar)

A piece is <bos> ts bar (event dur)+ bar (event dur)+ ... <eos>. Events never
cross a bar line (a long note becomes note + hold), so the number of bars is
exact and a sampler can count them.

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
