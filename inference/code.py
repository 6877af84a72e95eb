"""Auto-coding job entry point: ``python inference/code.py --config configs/code.yaml [key=value ...]``.

Thin on purpose: all logic is in ``groundcoder.inference`` (same as ``groundcoder code``).
Overrides are dotted config keys, e.g. ``input.store=project.sqlite inference.runtime=onnx``.
"""

import sys

from groundcoder.inference.job import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
