"""The one mechanism for names a module loads on first access (PEP 562 ``__getattr__``)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_names(module: str, origins: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports each name of ``origins`` from its module.

    Args:
        module: The ``__name__`` of the module the function serves.
        origins: Each lazily loaded name and the module that defines it.

    The value is kept in ``module``, so later lookups do not come back here.
    """

    def load(name: str) -> Any:
        origin = origins.get(name)
        if origin is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(origin), name)
        setattr(sys.modules[module], name, value)
        return value

    return load
