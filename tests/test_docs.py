"""The documentation stays usable: README.md is a short page for users with its two set-up
commands, and every relative link in README.md and docs/ points at a file that exists."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").rglob("*.md"))

#: Markdown links and images, inline: [text](target) / ![alt](target "title")
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
#: Reference definitions: [name]: target
REFERENCE = re.compile(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.MULTILINE)
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)


def relative_links(path: Path) -> list[str]:
    """The relative link targets of a markdown file (code blocks and inline code left out)."""
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    text = re.sub(r"`[^`\n]*`", "", text)
    targets = LINK.findall(text) + REFERENCE.findall(text)
    return [t for t in targets
            if not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", t) and not t.startswith("#")]


def test_readme_is_short():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) < 250, f"README.md has {len(lines)} lines; move details into docs/"


def test_readme_shows_the_two_set_up_commands():
    text = README.read_text(encoding="utf-8")
    blocks = "\n".join(m.group(0) for m in FENCE.finditer(text))
    for command in ("make run", "make test"):
        assert re.search(rf"^{command}\b", blocks, re.MULTILINE), command
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^run:", makefile, re.MULTILINE)
    assert re.search(r"^test:", makefile, re.MULTILINE)
    assert "python -m harness run --method scratch --bench synth-islr" in makefile


def test_ci_runs_make_test():
    ci = ROOT / ".ci" / "run"
    if not ci.exists():
        pytest.skip("no .ci/run in this checkout")
    assert "make test" in ci.read_text()


@pytest.mark.parametrize("path", [README, *DOCS], ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_at_existing_files(path):
    missing = []
    for target in relative_links(path):
        file = unquote(target.split("#", 1)[0].split("?", 1)[0])
        if not file:
            continue
        resolved = (ROOT / file.lstrip("/")) if file.startswith("/") else path.parent / file
        if not resolved.exists():
            missing.append(target)
    assert not missing, f"{path.relative_to(ROOT)}: links to missing files: {missing}"


def test_the_link_finder_finds_links():
    sample = ROOT / "README.md"
    assert "docs/usage.md" in relative_links(sample)


def test_the_registry_tables_in_the_docs_are_generated_ones():
    """docs/benchmarks.md holds the methods, benchmarks and protocols as ``list --markdown``
    prints them: a method, benchmark or protocol added, renamed or described anew shows up
    as a failure here until the block is regenerated."""
    from harness.cli.main import markdown_tables

    text = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    begin, end = "<!-- generated: python -m harness list --markdown -->\n", "<!-- end generated -->"
    assert begin in text and end in text
    block = text.split(begin, 1)[1].split(end, 1)[0]
    assert block == markdown_tables(), "rerun python -m harness list --markdown into the block"
    import subprocess
    import sys

    printed = subprocess.run([sys.executable, "-m", "harness", "list", "--markdown"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout
    assert printed == block
    from harness.core.registry import BENCHMARKS, METHODS, PROTOCOLS

    for name in [*METHODS.names(), *BENCHMARKS.names(), *PROTOCOLS.names()]:
        assert f"| `{name}` |" in block, name
