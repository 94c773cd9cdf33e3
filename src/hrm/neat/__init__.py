"""NEAT research modules (Titans memory, Transformer² SVF, BLT, MVoT) that compose with HRM/TRM.

Importing this package registers each module's model extension in `hrm.models.extensions.EXTENSIONS`.
The core never imports this package; the CLI does.
"""
from hrm.neat import titans  # noqa: F401
