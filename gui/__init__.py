"""RNN Composer Studio's desktop app (PySide6): a thin layer over the same
core services the command line uses (`composer.services.generate`, `training.trainer`).

Start it with `python -m gui` or the `rnn-composer-app` console script.
"""
