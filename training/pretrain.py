"""Pretraining job entry point: ``python training/pretrain.py --config configs/pretrain.yaml``.

Masked-language-model pretraining on unlabelled reports; all logic is in ``groundcoder.training`` and
``groundcoder.classifier.pretrain`` (same as ``groundcoder pretrain --config ...``).
"""

import sys

from groundcoder.training.job import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], command="pretrain"))
