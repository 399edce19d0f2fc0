"""One exception type for bad user input: the message names the file (and line) and the problem."""

from __future__ import annotations

from pathlib import Path


class SeldInputError(ValueError):
    """Raised for invalid input files or arguments; ``str(err)`` is a complete, user-facing message."""

    def __init__(self, path: str | Path | None, problem: str, line: int | None = None):
        self.path = None if path is None else Path(path)
        self.line = line
        self.problem = problem
        where = "" if path is None else f"{path}"
        if line is not None:
            where += f", line {line}"
        super().__init__(f"{where}: {problem}" if where else problem)
