"""The README stays in step with the code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from novita_core.params import parameter_table_markdown
from novita_core.testing import OfflineNovitaServer

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_parameter_table_matches_the_code() -> None:
    begin, end = "<!-- PARAMETERS:BEGIN -->\n", "\n<!-- PARAMETERS:END -->"
    table = README[README.index(begin) + len(begin) : README.index(end)]
    assert table == parameter_table_markdown()


def test_readme_names_exactly_the_two_setup_commands() -> None:
    assert "python3 dev.py demo" in README
    assert "python3 dev.py test" in README


def python_blocks() -> list[str]:
    blocks: list[str] = []
    current: list[str] = []
    inside = False
    for line in README.splitlines():
        if line.strip() == "```python":
            inside, current = True, []
        elif inside and line.strip() == "```":
            inside = False
            blocks.append("\n".join(current))
        elif inside:
            current.append(line)
    return blocks


@pytest.mark.parametrize("index", range(len(python_blocks())))
def test_readme_snippet_runs(  # the snippet runs as a user would: a fresh process, env set
    index: int, novita_server: OfflineNovitaServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOVITA_API_KEY", novita_server.api_key)
    monkeypatch.setenv("NOVITA_BASE_URL", novita_server.base_url)
    result = subprocess.run(
        [sys.executable, "-c", python_blocks()[index]], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
