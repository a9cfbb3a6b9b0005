"""The README stays in step with the code."""

from __future__ import annotations

from pathlib import Path

from novita_core.params import parameter_table_markdown

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_parameter_table_matches_the_code() -> None:
    begin, end = "<!-- PARAMETERS:BEGIN -->\n", "\n<!-- PARAMETERS:END -->"
    table = README[README.index(begin) + len(begin) : README.index(end)]
    assert table == parameter_table_markdown()


def test_readme_names_exactly_the_two_setup_commands() -> None:
    assert "python3 dev.py demo" in README
    assert "python3 dev.py test" in README
