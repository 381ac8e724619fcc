"""Object detectors and colour classifiers used to score generated images (GenEval)."""
