"""`mnistgan` with the tests' tiny dataset registered, for processes that torchrun starts:

    python -m tests.train.ddp_worker DATA_DIR [mnistgan arguments]
"""

from __future__ import annotations

import sys
from pathlib import Path

from mnistgan.cli import main
from mnistgan.data import datasets
from tests.faults.zygote import tiny_spec

if __name__ == "__main__":
    datasets.DATASETS["tiny"] = tiny_spec(Path(sys.argv[1]))
    sys.exit(main(sys.argv[2:]))
