"""The README stays short, starts with the quick start, and every relative link in the docs resolves."""

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
DOCS = [README, *sorted((REPO / "docs").glob("*.md"))]

FENCED_BLOCK = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"(`+).+?\1", re.DOTALL)
# [text](target) or [text](target "title"); images too.
LINK = re.compile(r"\[[^\]]*\]\(\s*([^)\s]+)(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def without_code(text: str) -> str:
    return INLINE_CODE.sub("", FENCED_BLOCK.sub("", text))


def anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lowercase, punctuation dropped but '-' and '_', spaces to '-', repeats get -1, -2."""
    seen: dict[str, int] = {}
    found = set()
    for heading in HEADING.findall(FENCED_BLOCK.sub("", path.read_text(encoding="utf-8"))):
        slug = re.sub(r"[^\w\- ]", "", heading.replace("`", "").lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def test_the_readme_has_at_most_300_lines():
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 300


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: str(path.relative_to(REPO)))
def test_every_relative_link_points_at_a_file_and_heading_that_exist(doc):
    broken = []
    for target in LINK.findall(without_code(doc.read_text(encoding="utf-8"))):
        if re.match(r"[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):
            continue  # https:, mailto: and the like
        path_part, _, anchor = target.partition("#")
        linked = (doc.parent / path_part).resolve() if path_part else doc
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif anchor and (linked.suffix != ".md" or anchor not in anchors(linked)):
            broken.append(f"{target}: no heading #{anchor} in {linked.relative_to(REPO)}")
    assert broken == []


def test_the_first_code_block_is_the_two_command_quick_start():
    first_block = FENCED_BLOCK.search(README.read_text(encoding="utf-8")).group(0)
    commands = [line for line in first_block.splitlines()[1:-1] if line.strip()]
    assert len(commands) == 2
    assert commands[0].endswith("inv up")
    assert commands[1] == "inv test"
