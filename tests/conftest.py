import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))

# The test models are tiny: one intra-op thread is as fast, and with other processes on the cores
# (subprocess tests, a busy machine) several threads oversubscribe and slow tiny ops down many times.
torch.set_num_threads(1)
os.environ.setdefault("OMP_NUM_THREADS", "1")  # inherited by the CLI subprocesses the tests start
