"""Music value types, MIDI file reading/writing, keys and scales."""
