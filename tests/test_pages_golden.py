"""Where metric knowledge lives changes no number: the leaderboard pages, the summary table
and paired comparisons (every float as Python writes it) of a fixed set of cells are byte
for byte those that the engine made before metric protocols owned their metrics
(``tests/golden/pages/``, generated then from ``tests/pages_fixture.py``; the signatures in
them name sacrebleu 2.6.0 and jiwer as ``requirements.lock`` pins them).

Regenerate the golden files only for a change meant to change the pages::

    .venv/bin/python -c "import tempfile, pathlib; from tests.pages_fixture import generate; \\
    d = pathlib.Path(tempfile.mkdtemp()); \\
    [pathlib.Path('tests/golden/pages', n).write_bytes(b) for n, b in generate(d).items()]"
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.pages_fixture import generate

GOLDEN = Path(__file__).parent / "golden" / "pages"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    return generate(tmp_path_factory.mktemp("pages"))


@pytest.mark.parametrize("name", sorted(p.name for p in GOLDEN.iterdir()))
def test_pages_summary_and_comparisons_are_the_golden_ones(generated, name):
    assert generated[name].decode("utf-8") == (GOLDEN / name).read_text(encoding="utf-8")


def test_the_golden_files_are_all_that_is_generated(generated):
    assert sorted(generated) == sorted(p.name for p in GOLDEN.iterdir())
