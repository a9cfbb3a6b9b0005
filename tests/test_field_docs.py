"""Every public field of the public classes says what it is.

LangChain partner style (and the core's settings): a docstring right under the field.
LlamaIndex style: ``Field(description=...)``, which pydantic puts in the JSON schema. Fields the
frameworks declare are theirs to document; this checks the ones declared in this repository.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import textwrap
from collections.abc import Callable
from typing import Any

import pytest

import langchain_novita
import llama_index_novita
from novita_core import NovitaSettings, RetryPolicy

OURS = ("novita_core", "langchain_novita", "llama_index_novita")

DOCSTRING_CLASSES: list[type[Any]] = [
    langchain_novita.ChatNovita,
    langchain_novita.Novita,
    langchain_novita.NovitaEmbeddings,
    langchain_novita.NovitaRerank,
    NovitaSettings,
    RetryPolicy,
]
DESCRIPTION_CLASSES: list[type[Any]] = [
    llama_index_novita.NovitaAI,
    llama_index_novita.NovitaEmbedding,
    llama_index_novita.NovitaRerank,
]


def field_names(cls: type[Any]) -> list[str]:
    if dataclasses.is_dataclass(cls):
        return [f.name for f in dataclasses.fields(cls)]
    return list(cls.model_fields)


def declaring_class(cls: type[Any], name: str) -> type[Any]:
    """The class in ``cls``'s MRO whose body declares the field (the last word on it)."""
    return next(k for k in cls.__mro__ if name in inspect.get_annotations(k))


def own_fields(cls: type[Any]) -> dict[str, type[Any]]:
    """Public fields declared in this repository -> the class whose body declares each."""
    found: dict[str, type[Any]] = {}
    for name in field_names(cls):
        owner = declaring_class(cls, name)
        if not name.startswith("_") and owner.__module__.startswith(OURS):
            found[name] = owner
    return found


def attribute_docstrings(cls: type[Any]) -> dict[str, str]:
    """``name -> docstring`` for each annotated field followed by a string literal."""
    body = ast.parse(textwrap.dedent(inspect.getsource(cls))).body[0]
    assert isinstance(body, ast.ClassDef)
    docs: dict[str, str] = {}
    for node, after in zip(body.body, body.body[1:], strict=False):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            docs[node.target.id] = after.value.value
    return docs


def has_docstring(cls: type[Any], owner: type[Any], name: str) -> bool:
    return bool(attribute_docstrings(owner).get(name, "").strip())


def has_description(cls: type[Any], owner: type[Any], name: str) -> bool:
    return bool((cls.model_fields[name].description or "").strip())


CASES = [(cls, has_docstring) for cls in DOCSTRING_CLASSES] + [
    (cls, has_description) for cls in DESCRIPTION_CLASSES
]


@pytest.mark.parametrize(("cls", "documented"), CASES, ids=lambda v: getattr(v, "__name__", ""))
def test_every_field_says_what_it_is(
    cls: type[Any], documented: Callable[[type[Any], type[Any], str], bool]
) -> None:
    fields = own_fields(cls)
    assert fields, "no fields found: the check would pass vacuously"
    missing = [
        f"{owner.__qualname__}.{name}"
        for name, owner in fields.items()
        if not documented(cls, owner, name)
    ]
    assert not missing, f"fields of {cls.__name__} without {documented.__name__[4:]}: {missing}"
