"""Reading a folder of MIDI files: scan, cache, worker pool, per-file report, file split."""
