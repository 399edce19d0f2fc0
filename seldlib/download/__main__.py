"""``python -m seldlib.download NAME ROOT [--base-url URL] [--files ...]``."""

import sys

from seldlib.download.datasets import main

sys.exit(main())
