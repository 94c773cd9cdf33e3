"""Errors that the CLI reports as one clear line (no traceback)."""


class HRMError(Exception):
    """Base class: bad user input, a corrupt file, a mismatched checkpoint."""


class ConfigError(HRMError):
    """A config file or override is invalid."""


class DatasetError(HRMError):
    """A dataset on disk is missing, corrupt or inconsistent."""


class CheckpointError(HRMError):
    """A checkpoint is missing, corrupt or does not match the model."""


class PuzzleError(HRMError):
    """A puzzle given on the command line is malformed."""
