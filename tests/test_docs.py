"""The documentation is self-contained: code cites public sources or this repository's ``docs/`` pages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCES = sorted([*REPO.glob("seldlib/**/*.py"), *REPO.glob("stages/*.py"), *REPO.glob("benchmarks/*.py"),
                  *REPO.glob("tests/*.py"), *REPO.glob("presets/*.yaml"), REPO / "params.yaml", REPO / "dvc.yaml",
                  REPO / "README.md", *REPO.glob("docs/*.md")])
# a citation of a docs page, with an optional section anchor
DOC_REF = re.compile(r"(?<![\w/.-])(docs/[\w-]+\.md|[\w-]+\.md)(?![\w/])(#[\w-]+)?")


def _anchors(page: Path) -> set[str]:
    """GitHub-style anchors of a page's headings."""
    heads = [line.lstrip("#").strip() for line in page.read_text(encoding="utf-8").splitlines() if line.startswith("#")]
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in heads}


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(REPO)))
def test_cited_pages_and_sections_exist(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    if path != Path(__file__):
        assert "../shared" not in text and "shared/reference" not in text, f"{path} cites private notes"
    for m in DOC_REF.finditer(text):
        name, anchor = m.group(1), m.group(2)
        page = (path.parent / name) if path.parent.name == "docs" and "/" not in name else REPO / name
        if not page.is_file() and path.parent.name == "docs":
            page = REPO / name  # a root file named in a command (README.md)
        if not name.startswith("docs/") and path.parent.name != "docs":
            # a bare page name outside docs/ is only fine for files of the repository root (README.md, …)
            assert (REPO / name).is_file() or name in {"results.md", "missing.md", "f1.md", "f2.md"}, \
                f"{path.relative_to(REPO)} cites {name}, which is not in this repository"
            continue
        assert page.is_file(), f"{path.relative_to(REPO)} cites {name}, which does not exist"
        if anchor:
            assert anchor[1:] in _anchors(page), f"{path.relative_to(REPO)} cites {name}{anchor}: no such section"
