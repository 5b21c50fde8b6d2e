"""Shared test setup: one embedding cache for the whole suite and the book build.

`make test` already exports LLU_CACHE_DIR=.cache; a bare `pytest` gets the same default here,
so features extracted by one test (or by `make book`) are reused by the next.
"""

import os
from pathlib import Path

os.environ.setdefault("LLU_CACHE_DIR", str(Path(__file__).resolve().parent.parent / ".cache"))
os.environ.setdefault("MPLBACKEND", "Agg")
