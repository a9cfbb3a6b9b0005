"""Values that follow a JSON schema, mined from the prompt (tool arguments, structured output).

Numbers are taken from the prompt in order (not clamped to a schema's range); strings from quoted
text, then capitalised phrases. Optional properties appear only when the prompt names them. A
test that needs other values scripts the reply instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from novita_core.testing.replies.common import (
    IDENTIFIER,
    QUOTED,
    WORDS_DIRECTIVE,
    content_text,
    echo_text,
    is_number,
)

__all__ = ["fill_schema", "json_object"]

_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w])")
_CAPITALISED = re.compile(r"\b[A-Z][\w'-]*(?:,? [A-Z][\w'-]*)*")
# JSON mode without a schema: a key is numeric when the prompt gives it a number right after
# naming it ("'age': 36"), calls it a number ("'age' (an integer)"), or its name is one.
_NUMBER_AFTER_KEY = re.compile(r"^\s*(?:[:=]|is|of|as)?\s*(-?\d+(?:\.\d+)?)(?![\w.])")
_NUMBER_HINT = re.compile(r"^\W*(?:as\s+|is\s+)?(?:an?\s+)?(?:integer|int|number|float|count)\b")
_NUMERIC_NAME = re.compile(
    r"(?:^|_)(?:age|count|year|total|number|num|quantity|amount|price|score|rating|size)s?$",
    re.IGNORECASE,
)


def _mined_strings(text: str) -> list[str]:
    """Quoted text, then capitalised phrases, deduplicated."""
    found = [next(g for g in m.groups() if g is not None) for m in QUOTED.finditer(text)]
    found += _capitalised_phrases(text)
    stripped = (value.strip(" ,.;:") for value in found)
    return list(dict.fromkeys(value for value in stripped if value))


def _capitalised_phrases(text: str) -> Iterator[str]:
    """Runs of capitalised words that do not start a sentence (names, places, styles)."""
    for match in _CAPITALISED.finditer(text):
        words = match.group(0).split(" ")
        before = text[: match.start()].rstrip()
        if not before or before[-1] in ".?!:\n":
            words = words[1:]
        phrase = " ".join(words)
        if phrase not in ("", "I"):
            yield phrase


class SchemaFiller:
    """Fills a schema with values taken in order from ``text``.

    Args:
        root: The schema ``$ref`` pointers resolve against.
        text: The prompt the values come from.
        strings: Whether strings are mined from ``text`` (else they describe it).
    """

    def __init__(self, root: dict[str, Any], text: str, *, strings: bool = True) -> None:
        self.root = root
        self.text = text
        self.words = {w.lower() for w in re.findall(r"\w+", text)}
        self.numbers = [float(m.group(0)) for m in _NUMBER.finditer(text)]
        self.strings = _mined_strings(text) if strings else []

    def resolve(self, schema: Any) -> dict[str, Any]:
        for _ in range(32):
            if not isinstance(schema, dict) or "$ref" not in schema:
                break
            target: Any = self.root
            for part in str(schema["$ref"]).lstrip("#").strip("/").split("/"):
                target = target.get(part, {}) if isinstance(target, dict) and part else target
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**target, **rest} if isinstance(target, dict) else rest
        return schema if isinstance(schema, dict) else {}

    def value(self, schema: Any, name: str, depth: int = 0) -> Any:
        node = self.resolve(schema)
        if depth > 8:
            return None
        if "const" in node:
            return node["const"]
        if isinstance(node.get("enum"), list) and node["enum"]:
            return node["enum"][0]
        options = node.get("anyOf") or node.get("oneOf")
        if isinstance(options, list) and options:
            resolved = [self.resolve(o) for o in options]
            non_null = [o for o in resolved if o.get("type") != "null"]
            return self.value((non_null or resolved)[0], name, depth + 1)
        kind = node.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind is None:
            kind = "object" if "properties" in node else ("array" if "items" in node else "string")
        if kind == "object":
            required = node.get("required") or []
            return {
                key: self.value(sub, key, depth + 1)
                for key, sub in (node.get("properties") or {}).items()
                # Optional fields appear only when the prompt mentions them, like a model would.
                if key in required or key.lower() in self.words
            }
        if kind == "array":
            items = self.resolve(node.get("items", {}))
            count = max(node.get("minItems") or 1, 1)
            if items.get("type") in ("integer", "number"):
                count = max(count, len(self.numbers))
                count = min(count, node.get("maxItems") or count)
            return [self.value(items, name, depth + 1) for _ in range(count)]
        if kind in ("integer", "number"):
            return self.number(node, integer=kind == "integer")
        if kind in ("boolean", "null"):
            return True if kind == "boolean" else None
        return self.string(name)

    def number(self, node: dict[str, Any], *, integer: bool) -> int | float:
        default = node.get("default")
        found = (
            self.numbers.pop(0) if self.numbers else float(default) if is_number(default) else 1.0
        )
        return int(found) if integer or found.is_integer() else found

    def string(self, name: str) -> str:
        if self.strings:
            return self.strings.pop(0)
        label = name.replace("_", " ") if name else "text"
        snippet = " ".join(WORDS_DIRECTIVE.sub(" ", self.text).split()[:12])
        return f"{label} for: {snippet}" if snippet else label


def fill_schema(schema: Any, prompt_text: str) -> Any:
    """Build a value valid against ``schema`` using numbers and strings found in the prompt.

    Args:
        schema: A JSON schema (``$ref``/``$defs``, ``anyOf``, enums, arrays, nested objects).
        prompt_text: Text mined for numbers (in order) and strings (quoted text, then
            capitalised phrases).
    """
    root = schema if isinstance(schema, dict) else {}
    return SchemaFiller(root, prompt_text).value(root, "")


def json_object(
    user_text: str, messages: list[dict[str, Any]], *, values_text: str | None = None
) -> dict[str, Any]:
    """JSON mode: the keys the prompt asks for (quoted identifiers), else ``{"answer": ...}``.

    A key that looks numeric in the prompt (see ``_NUMBER_AFTER_KEY``, ``_NUMBER_HINT``,
    ``_NUMERIC_NAME``) gets a number, an integer when it is whole; the others get strings.
    Values are mined from ``values_text`` (the user's text when None).
    """
    sources = [user_text] + [
        content_text(m.get("content"))[0] for m in messages if m["role"] in ("system", "developer")
    ]
    for source in sources:
        keys: dict[str, str] = {}
        matches = list(QUOTED.finditer(source))
        for match, following in zip(matches, [*matches[1:], None], strict=True):
            candidate = next(g for g in match.groups() if g is not None)
            if IDENTIFIER.match(candidate) and candidate not in keys:
                keys[candidate] = source[match.end() : following.start() if following else None]
        if keys:
            filler = SchemaFiller({}, QUOTED.sub(" ", values_text or user_text), strings=False)
            return {key: _json_mode_value(filler, key, after) for key, after in keys.items()}
    return {"answer": echo_text(user_text, 0)}


def _json_mode_value(filler: SchemaFiller, key: str, after: str) -> Any:
    given = _NUMBER_AFTER_KEY.match(after)
    if given is not None:
        number = float(given.group(1))
        return int(number) if number.is_integer() else number
    if _NUMBER_HINT.match(after) or _NUMERIC_NAME.search(key):
        return filler.number({}, integer=False)
    return filler.string(key)
