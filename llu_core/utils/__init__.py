"""Helpers every layer uses and that use nothing of ours: input checks, atomic files, progress
bars, the cache folder, and ``ClassTexts``, the class embeddings with their names.

``ClassTexts`` lives here because both the data side (``embed_dataset`` makes one) and the
estimators (the prompt learners read its names and text tower) need it, and neither may
import the other.
"""
