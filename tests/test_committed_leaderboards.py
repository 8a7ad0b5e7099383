"""The leaderboards committed under leaderboards/ are generated pages that a reader can
trust: no row from uncommitted code, no path of the machine that made them, every
SynthSign row at one code version, and each page marked as generated."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PAGES = sorted((Path(__file__).resolve().parents[1] / "leaderboards").glob("*.md"))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_committed_pages_hold_no_dirty_code_and_no_machine_path(page):
    text = page.read_text(encoding="utf-8")
    assert "+dirty" not in text, f"{page.name}: a row from uncommitted code"
    assert "sqlite:////" not in text, f"{page.name}: an absolute MLflow store path"
    absolute = [w for w in text.split() if w.strip("`(").startswith(("/", "~"))]
    assert not absolute, f"{page.name}: machine paths {absolute[:3]}"
    if page.name != "README.md":
        assert "do not edit by hand" in text


def test_committed_rows_share_one_code_version():
    """Code versions are the `code` column's `` `sha` `` entries (10 hex digits)."""
    versions = set()
    for page in PAGES:
        for line in page.read_text(encoding="utf-8").splitlines():
            if line.startswith("| ") and "`" in line:
                versions.update(re.findall(r"`([0-9a-f]{10})`", line))
    assert len(versions) <= 1, f"rows from several code versions: {sorted(versions)}"
