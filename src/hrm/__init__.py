"""hrm: small recursive reasoning models (HRM, TRM) for hard puzzles, trained from ~1000 examples."""

__version__ = "0.1.0"
