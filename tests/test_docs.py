"""The docs' links land: every relative link from cgan/recipe.py, README.md and docs/ names a file that exists and,
with a #fragment, an anchor in it. The recipe's why-comments link to their decision entries in the training notes
(docs/training-notes.md#decisions), so renaming or dropping an entry, or a setting without one, fails here."""

import ast
import re
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RECIPE = ROOT / "cgan" / "recipe.py"
MARKDOWN_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]

MARKDOWN_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")  # [text](target) and ![alt](target)
CODE_LINK = re.compile(r"docs/[\w./=-]+\.md(?:#[\w-]+)?")  # a link in a comment, relative to the repository
EXPLICIT_ANCHOR = re.compile(r"<a\s+(?:id|name)=\"([^\"]+)\"")
FENCE = re.compile(r"^\s*(```|~~~)")


def without_code_blocks(text):
    """The lines of a markdown text outside fenced code blocks (a `# comment` in a bash block is no heading)."""
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def heading_slug(title):
    """GitHub's anchor for a heading: its text without markup, lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"<[^>]+>", "", title)  # inline HTML, such as an explicit anchor
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link shows its text
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(path):
    """Every anchor a link may name in the markdown file `path`: explicit `<a id>` ones and the headings' slugs."""
    found, seen = set(), Counter()
    for line in without_code_blocks(path.read_text(encoding="utf-8")):
        found.update(EXPLICIT_ANCHOR.findall(line))
        heading = re.match(r"#{1,6}\s+(.*)", line)
        if heading:
            slug = heading_slug(heading.group(1))
            found.add(slug if not seen[slug] else f"{slug}-{seen[slug]}")
            seen[slug] += 1
    return found


def dead_links(source, targets, base):
    """'source: target (why)' for each link of `targets` (relative to the folder `base`) that does not land."""
    dead = []
    for target in targets:
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http(s), mailto: not checked here
            continue
        name, _, fragment = target.partition("#")
        path = (base / name).resolve() if name else source
        if not path.is_file():
            dead.append(f"{source.relative_to(ROOT)}: {target} (no file {path})")
        elif fragment and fragment not in anchors(path):
            dead.append(f"{source.relative_to(ROOT)}: {target} (no anchor #{fragment} in {path.name})")
    return dead


def markdown_links(path):
    return [link for line in without_code_blocks(path.read_text(encoding="utf-8"))
            for link in MARKDOWN_LINK.findall(line)]


def test_every_link_from_the_recipe_lands_on_a_decision_entry():
    links = CODE_LINK.findall(RECIPE.read_text(encoding="utf-8"))
    assert len([link for link in links if "#" in link]) >= 15, "the recipe's comments lost their links"
    dead = dead_links(RECIPE, links, ROOT)
    assert not dead, "\n".join(dead)


def test_each_setting_of_the_default_recipe_links_its_decision_entry():
    """Each keyword of DCGAN_QUICK has a link to the notes in the comment on its line or in the comment lines just
    above it (settings that share a line share that comment)."""
    lines = RECIPE.read_text(encoding="utf-8").splitlines()
    call = next(node.value for node in ast.parse("\n".join(lines)).body
                if isinstance(node, ast.Assign) and node.targets[0].id == "DCGAN_QUICK")
    unlinked = []
    for keyword in call.keywords:
        row = keyword.value.lineno - 1
        comment = [lines[row]]
        while row > 0 and lines[row - 1].strip().startswith("#"):
            row -= 1
            comment.append(lines[row])
        if not any("docs/training-notes.md#" in line for line in comment):
            unlinked.append(keyword.arg)
    assert not unlinked, f"settings without a link to their decision entry: {', '.join(unlinked)}"


@pytest.mark.parametrize("path", MARKDOWN_FILES, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_relative_link_of_the_readme_and_the_docs_lands(path):
    dead = dead_links(path, markdown_links(path), path.parent)
    assert not dead, "\n".join(dead)


def test_a_dead_file_or_anchor_is_reported(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    notes = tmp_path / "notes.md"
    notes.write_text('# Notes\n\n```bash\n# not a heading\n```\n\n### <a id="lr"></a>G\'s rate: 8e-4 (`lr`)\n\n'
                     "## Two words\n\n## Two words\n", encoding="utf-8")
    readme = tmp_path / "README.md"
    links = ["notes.md#lr", "notes.md#two-words", "notes.md#two-words-1", "notes.md#gs-rate-8e-4-lr",
             "https://example.com/x.md#nowhere", "notes.md#not-a-heading", "notes.md#d-lr-ratio", "gone.md",
             "#lr"]
    readme.write_text("\n".join(f"[{i}]({link})" for i, link in enumerate(links)), encoding="utf-8")
    assert markdown_links(readme) == links
    dead = dead_links(readme, markdown_links(readme), tmp_path)
    assert [entry.split(" ")[1] for entry in dead] == ["notes.md#not-a-heading", "notes.md#d-lr-ratio", "gone.md",
                                                       "#lr"]
