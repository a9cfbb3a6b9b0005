"""Import boundaries: each adapter loads only its own framework; the core loads neither."""

from __future__ import annotations

import subprocess
import sys

import pytest

CASES = [
    ("novita_core", ("langchain_core", "llama_index")),
    ("novita_core.testing", ("langchain_core", "llama_index", "openai")),
    ("langchain_novita", ("llama_index", "openai")),
    # The openai SDK costs about a second to import: the adapters load it on first use.
    ("llama_index_novita", ("langchain_core", "langchain", "openai")),
]


@pytest.mark.parametrize(("module", "forbidden"), CASES)
def test_import_does_not_pull_in_the_other_framework(
    module: str, forbidden: tuple[str, ...]
) -> None:
    code = (
        f"import sys, {module}\n"
        f"loaded = sorted(m for m in {forbidden!r} if m in sys.modules)\n"
        "print(','.join(loaded))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


@pytest.mark.parametrize("package", ["novita_core", "langchain_novita", "llama_index_novita"])
def test_packages_ship_py_typed(package: str) -> None:
    module = __import__(package)
    from pathlib import Path

    assert (Path(module.__file__).parent / "py.typed").exists()


def test_importing_the_core_does_not_load_the_openai_sdk() -> None:
    code = (
        "import sys, novita_core, novita_core.params, novita_core.settings\n"
        "print('openai' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_langchain_classes_load_on_first_use() -> None:
    code = (
        "import sys\n"
        "from langchain_novita import NovitaEmbeddings\n"
        "print('langchain_core.language_models.chat_models' in sys.modules)\n"
        "from langchain_novita import ChatNovita\n"
        "print(ChatNovita.__module__)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "langchain_novita.chat_models"]
