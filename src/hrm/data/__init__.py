"""Datasets: the authors' on-disk format, loaders, and task builders (import `hrm.data.all_tasks`
to register every builder; the format and loaders import no builder, so training pulls in no numba)."""
