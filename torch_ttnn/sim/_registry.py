"""The registry of simulated ops: name -> Operation (sim/_op.py), filled as the op families are imported."""
from __future__ import annotations

OPS: dict = {}
