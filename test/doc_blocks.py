"""The shell blocks and Python snippets of the README and docs/*.md, as test_docs.py runs them.

A shell block is a fenced block marked ``bash``/``sh``/``shell`` or an indented (4 spaces)
block outside fences; a snippet is a fenced ``python`` block. Each keeps its file and line,
so a failure names where the documentation is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOC_FILES = (REPO / "README.md", *sorted((REPO / "docs").glob("*.md")))
SHELL_LANGUAGES = ("bash", "sh", "shell")


@dataclass(frozen=True)
class Block:
    file: str  # relative to the repository
    line: int  # of the block's first line, 1-based
    language: str  # "shell" or "python"
    text: str

    @property
    def first_line(self) -> str:
        return self.text.strip().splitlines()[0].strip()

    def where(self) -> str:
        return f"{self.file}:{self.line}"


def doc_blocks(path: Path) -> list[Block]:
    """Fenced shell and python blocks, then indented blocks, in file order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    name = str(path.relative_to(REPO))
    return sorted(_fenced(lines, name) + _indented(lines, name), key=lambda b: b.line)


def _fenced(lines: list[str], name: str) -> list[Block]:
    blocks, start, language, body = [], 0, None, []
    for number, line in enumerate(lines, 1):
        if not line.startswith("```"):
            if language is not None:
                body.append(line)
            continue
        if language is None:
            language, start, body = line[3:].strip(), number + 1, []
            continue
        if language in SHELL_LANGUAGES or language == "python":
            kind = "python" if language == "python" else "shell"
            blocks.append(Block(name, start, kind, "\n".join(body) + "\n"))
        language = None
    return blocks


def _indented(lines: list[str], name: str) -> list[Block]:
    blocks: list[Block] = []
    in_fence, previous_blank, start, body = False, True, 0, []
    for number, line in enumerate([*lines, ""], 1):
        if line.startswith("```"):
            in_fence = not in_fence
        if not in_fence and line.startswith("    ") and (body or previous_blank):
            start = start if body else number
            body.append(line[4:])
        elif body and not line.strip():
            body.append("")
        else:
            if body:
                blocks.append(Block(name, start, "shell", "\n".join(body).strip() + "\n"))
            body = []
        previous_blank = not line.strip()
    return blocks


def all_blocks(language: str) -> list[Block]:
    return [b for path in DOC_FILES for b in doc_blocks(path) if b.language == language]
