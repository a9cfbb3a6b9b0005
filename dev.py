#!/usr/bin/env python3
"""The project's two entry points; each needs nothing but ``python3``.

    python3 dev.py demo   # a LangChain chain and a LlamaIndex query (offline server without a key)
    python3 dev.py test   # ruff, mypy, pytest (unit, standard suites, load, notebooks), openai 2.x

and, outside the test run, ``python3 dev.py bench [--quick]`` for the benchmarks in ``bench/``.

Each creates the virtual environment it needs on first use and reinstalls only when
``pyproject.toml`` changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
MAIN_VENV = ROOT / ".venv"
OPENAI2_VENV = ROOT / ".venv-openai2"
BENCH_VENV = ROOT / ".venv-bench"
PYTEST_NO_TESTS = 5


def _python(env_dir: Path) -> Path:
    return env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure_env(env_dir: Path, requirements: list[str]) -> Path:
    """Create ``env_dir`` if needed and install ``requirements`` unless already installed."""
    python = _python(env_dir)
    if not python.exists():
        print(f"==> creating {env_dir.name}", flush=True)
        venv.EnvBuilder(with_pip=True).create(env_dir)
        run([str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes())
    digest.update(" ".join(requirements).encode())
    stamp = env_dir / ".installed"
    if not stamp.exists() or stamp.read_text() != digest.hexdigest():
        print(f"==> installing {' '.join(requirements)} into {env_dir.name}", flush=True)
        run([str(python), "-m", "pip", "install", "--quiet", *requirements])
        stamp.write_text(digest.hexdigest())
    return python


def run(command: list[str], *, env: dict[str, str] | None = None) -> int:
    print("$ " + " ".join(command), flush=True)
    code = subprocess.call(command, cwd=ROOT, env={**os.environ, **(env or {})})
    if code != 0:
        if code == PYTEST_NO_TESTS and command[1:3] == ["-m", "pytest"]:
            print("pytest collected no tests: that is a failure here", flush=True)
        sys.exit(code)
    return code


def demo() -> None:
    python = ensure_env(MAIN_VENV, ["-e", ".[all]"])
    run([str(python), "examples/demo.py"])


def test() -> None:
    python = ensure_env(MAIN_VENV, ["-e", ".[dev]"])
    run([str(python), "-m", "ruff", "check", "."])
    run([str(python), "-m", "ruff", "format", "--check", "."])
    run([str(python), "-m", "mypy"])
    notebooks = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "notebooks").glob("*.ipynb"))
    nbmake = ["--nbmake", *notebooks] if notebooks else []
    # Notebooks use Novita when NOVITA_API_KEY is set; the test run keeps them offline.
    run([str(python), "-m", "pytest", "tests", *nbmake], env={"NOVITA_OFFLINE": "1"})
    # The 2.x line of openai uses httpx instead of httpx2: the core must work on both.
    python2 = ensure_env(
        OPENAI2_VENV,
        [
            "-e",
            ".",
            "openai>=2.8,<3",
            "pytest>=8.3,<10",
            "pytest-asyncio>=0.25,<2",
            "pytest-timeout>=2.3,<3",
        ],
    )
    run([str(python2), "-m", "pytest", "tests/core", "-q"])


def bench() -> None:
    # The anchors (langchain-openai, llama-index-llms-openai-like) live only in this venv.
    python = ensure_env(BENCH_VENV, ["-e", ".[all,ray]", "-r", "bench/requirements.txt"])
    run([str(python), "bench/run.py", *sys.argv[2:]])


COMMANDS = {"demo": demo, "test": test, "bench": bench}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(f"usage: python3 {Path(__file__).name} {{{'|'.join(COMMANDS)}}} [options]")
    COMMANDS[sys.argv[1]]()
