"""CLI: ``python -m seldlib.metrics REF_DIR PRED_DIR --json OUT.json [--onscreen] [--average macro|micro] [--jackknife]``.

Bad input prints one ``error: <file>, line <n>: <problem>`` line on stderr and exits with code 2. Input the
official code scores without a word but that is probably wrong (see :mod:`seldlib.metrics.io`) is scored
the same way and reported as ``warning: <file>, line <n>: <problem>`` lines on stderr.
"""

from __future__ import annotations

import argparse
import sys
import warnings

from seldlib.atomic import write_json_atomic
from seldlib.errors import SeldInputError
from seldlib.metrics.core import score_dirs
from seldlib.metrics.io import InputWarning


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m seldlib.metrics",
        description="DCASE2025 Task 3 SELD metrics, numerically equivalent to the official evaluation code.",
    )
    p.add_argument("ref_dir", help="reference root: split sub-folders of reference CSVs (e.g. metadata_dev)")
    p.add_argument("pred_dir", help="prediction folder: one CSV per clip, directly or in sub-folders")
    p.add_argument("--json", required=True, metavar="OUT.json", help="where to write the scores")
    p.add_argument("--onscreen", action="store_true", help="F requires a correct onscreen flag: F(20deg,1,on)")
    p.add_argument("--average", choices=("macro", "micro"), default="macro", help="class averaging (default macro)")
    p.add_argument("--jackknife", action="store_true", help="add leave-one-file-out 95%% confidence intervals")
    return p


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    print(f"warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    warnings.showwarning = _show_warning  # the library's own warnings (crowded frames) read the same way
    notes: list[InputWarning] = []
    try:
        scores = score_dirs(args.ref_dir, args.pred_dir, onscreen=args.onscreen, average=args.average,
                            jackknife=args.jackknife, notes=notes)
        for note in notes:
            print(f"warning: {note}", file=sys.stderr)
        write_json_atomic(args.json, scores.to_dict(), ndigits=None)
    except SeldInputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # e.g. the JSON target cannot be written
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(scores.format_table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
