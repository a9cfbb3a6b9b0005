"""The HTTP library behind the installed ``openai``: ``httpx`` on 2.x, ``httpx2`` on 3.x.

We take it from the SDK's own client class rather than importing either by name, so the package
works on both lines without declaring a transport dependency of its own.
"""

from __future__ import annotations

import importlib
from types import ModuleType

import openai


def _http_library() -> ModuleType:
    for base in openai.DefaultHttpxClient.__mro__:
        root = base.__module__.partition(".")[0]
        if root in ("httpx", "httpx2"):
            return importlib.import_module(root)
    raise ImportError("Cannot find the HTTP library used by the installed openai package")


http_lib = _http_library()
"""``httpx2`` or ``httpx``: whichever the installed ``openai`` sends requests with."""

RawResponse = http_lib.Response
"""The SDK's ``cast_to`` for an unparsed response (its documented low-level escape hatch)."""
