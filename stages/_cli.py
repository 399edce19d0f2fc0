"""The shared entry point of every stage: bad input ends with one ``error:`` line and exit code 2, and
freed memory stays in the process for reuse (:mod:`seldlib.hostmem`)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import NoReturn

from seldlib.errors import SeldInputError
from seldlib.hostmem import keep_freed_memory


def run(main: Callable[[], int]) -> NoReturn:
    keep_freed_memory()
    try:
        code = main()
    except SeldInputError as err:
        print(f"error: {err}", file=sys.stderr)
        code = 2
    sys.exit(code)
