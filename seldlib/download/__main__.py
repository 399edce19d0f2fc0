"""``python -m seldlib.download NAME ROOT [--base-url URL] [--files ...]`` (data sets) or
``python -m seldlib.download weights NAME [--dir DIR]`` (detector weights, seldlib/download/weights.py)."""

import sys

if sys.argv[1:2] == ["weights"]:
    from seldlib.download.weights import main as weights_main

    sys.exit(weights_main(sys.argv[2:]))

from seldlib.download.datasets import main

sys.exit(main())
