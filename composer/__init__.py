"""composer: train LSTM/GRU models on your own MIDI and generate music.

The Qt-free core: MIDI I/O, representations, model, sampling, model file and
the services that the CLI and the GUI both call.
"""
__version__ = "0.1.0"

from .errors import (  # noqa: F401
                     Cancelled,
                     ComposerError,
                     ConstraintError,
                     MidiReadError,
                     ModelFileError,
                     OutputExistsError,
                     WriteError,
)
