"""Training job entry point: ``python training/train.py --config configs/train.yaml``.

Thin on purpose: all logic is in ``groundcoder.training`` (same as ``groundcoder train --config ...``).
"""

import sys

from groundcoder.training.job import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], command="train"))
