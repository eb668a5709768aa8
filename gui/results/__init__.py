"""The results side of the generate view: the panel (list, roll, content, editing),
its sound output (players, SoundFont, MIDI port), its export (.mid, WAV) and its
edit actions (Regenerate selection, undo)."""
from gui.results.panel import ResultsPanel

__all__ = ["ResultsPanel"]
