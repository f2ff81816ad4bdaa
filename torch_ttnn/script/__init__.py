"""The parts of an exported TT-NN program that are the same in every script (export.py copies them)."""
