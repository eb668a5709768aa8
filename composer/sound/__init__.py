"""Synthesis, audio export, MIDI output ports."""
