"""The one small hierarchy of domain errors.

Every message names the bad value or file, so the CLI can print it as a single
line and the GUI can show it in a dialog.
"""


class ComposerError(Exception):
    """Base class of every error the core raises on purpose."""


class MidiReadError(ComposerError):
    """A MIDI file could not be read, or was rejected by a safety cap."""


class ModelFileError(ComposerError):
    """A model file is missing, corrupt, foreign, or of a newer format."""


class ConstraintError(ComposerError):
    """A sampling constraint cannot be met (unknown key, empty pitch range...)."""


class OutputExistsError(ComposerError):
    """Refusing to overwrite an existing file without `force`."""


class NotAFileError(ComposerError):
    """An output path names something that is not a regular file (a device
    node, FIFO, socket or folder); it is never replaced, `force` or not."""


class WriteError(ComposerError, OSError):
    """A file could not be written (disk full, read-only folder...); the
    previous file at that path, if any, is intact."""


class Cancelled(ComposerError):
    """Long work stopped because `should_stop()` returned True."""
