"""The committed man pages are exactly what the CLI definitions generate, and they render."""

import shutil
import subprocess
from pathlib import Path

import pytest

from dnaseq_cli.cli.manpages import generate

MAN = Path(__file__).resolve().parents[2] / "man"


def test_committed_man_pages_match_the_cli(tmp_path):
    fresh = {p.name: p.read_text() for p in generate(tmp_path)}
    committed = {p.name: p.read_text() for p in MAN.glob("*.1")}
    assert set(fresh) == set(committed), "run: python -m dnaseq_cli.cli.manpages man"
    for name, text in fresh.items():
        assert committed[name] == text, (
            f"{name} is stale: run python -m dnaseq_cli.cli.manpages man"
        )
    assert "dnaseq-preprocess.1" in fresh and "dnaseq.1" in fresh


@pytest.mark.skipif(shutil.which("man") is None, reason="man(1) not installed")
def test_main_page_renders():
    result = subprocess.run(
        ["man", "-l", str(MAN / "dnaseq.1")],
        capture_output=True,
        text=True,
        env={"MANPAGER": "cat", "PAGER": "cat", "MANWIDTH": "80", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert "preprocess" in result.stdout and "EXIT STATUS" in result.stdout
