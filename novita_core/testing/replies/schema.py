"""Values that follow a JSON schema, mined from the prompt (tool arguments, structured output).

Numbers are taken from the prompt in order; strings from quoted text, then runs of non-ASCII
text, then capitalised phrases. Optional properties appear only when the prompt names them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
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
_NON_ASCII_RUN = re.compile(
    r"[^\x00-\x7f\s\u201c\u201d\u2018\u2019\u300c\u300d\uff0c\u3002\uff01\uff1f\u3001]+"
)
_WORD = re.compile(r"[A-Za-z][\w'-]*")
# JSON mode without a schema: a key is numeric when the prompt gives it a number right after
# naming it ("'age': 36"), calls it a number ("'age' (an integer)"), or its name is one.
_NUMBER_AFTER_KEY = re.compile(r"^\s*(?:[:=]|is|of|as)?\s*(-?\d+(?:\.\d+)?)(?![\w.])")
_NUMBER_HINT = re.compile(r"^\W*(?:as\s+|is\s+)?(?:an?\s+)?(?:integer|int|number|float|count)\b")
_NUMERIC_NAME = re.compile(
    r"(?:^|_)(?:age|count|year|total|number|num|quantity|amount|price|score|rating|size)s?$",
    re.IGNORECASE,
)


@dataclass
class Prompt:
    """Values mined from the prompt, consumed in order while filling a schema."""

    text: str
    numbers: list[float] = field(default_factory=list)
    strings: list[str] = field(default_factory=list)
    number_pos: int = 0
    string_pos: int = 0

    @classmethod
    def mine(cls, text: str) -> Prompt:
        numbers = [float(m.group(0)) for m in _NUMBER.finditer(text)]
        strings: list[str] = []

        def add(candidate: str) -> None:
            candidate = candidate.strip(" ,.;:")
            if candidate and candidate not in strings:
                strings.append(candidate)

        quoted_spans: list[tuple[int, int]] = []
        for match in QUOTED.finditer(text):
            add(next(g for g in match.groups() if g is not None))
            quoted_spans.append(match.span())
        for match in _NON_ASCII_RUN.finditer(text):
            if not any(a <= match.start() < b for a, b in quoted_spans):
                add(match.group(0))
        for phrase in _capitalized_phrases(text):
            add(phrase)
        return cls(text=text, numbers=numbers, strings=strings)

    def next_number(self) -> float | None:
        if self.number_pos < len(self.numbers):
            self.number_pos += 1
            return self.numbers[self.number_pos - 1]
        return None

    def next_string(self) -> str | None:
        if self.string_pos < len(self.strings):
            self.string_pos += 1
            return self.strings[self.string_pos - 1]
        return None

    def snippet(self, words: int = 12) -> str:
        return " ".join(WORDS_DIRECTIVE.sub(" ", self.text).split()[:words])


def _capitalized_phrases(text: str) -> list[str]:
    """Runs of capitalised words that do not start a sentence (names, places, styles)."""
    phrases: list[str] = []
    current: list[str] = []
    last_end = -1
    for match in _WORD.finditer(text):
        word = match.group(0)
        before = text[: match.start()].rstrip()
        sentence_start = not before or before[-1] in ".?!:\n"
        gap = text[last_end : match.start()] if last_end >= 0 else None
        capital = word[0].isupper() and word != "I" and not sentence_start
        if capital and current and gap in (" ", ", "):
            current.append(("," if gap == ", " else "") + " " + word)
        elif capital:
            if current:
                phrases.append("".join(current))
            current = [word]
        else:
            if current:
                phrases.append("".join(current))
            current = []
        last_end = match.end()
    if current:
        phrases.append("".join(current))
    return phrases


class SchemaFiller:
    def __init__(self, root: dict[str, Any], prompt: Prompt) -> None:
        self.root = root
        self.prompt = prompt
        self.prompt_words = {w.lower() for w in re.findall(r"\w+", prompt.text)}

    def resolve(self, schema: Any) -> dict[str, Any]:
        seen = 0
        while isinstance(schema, dict) and "$ref" in schema and seen < 32:
            ref = schema["$ref"]
            target: Any = self.root
            if isinstance(ref, str) and ref.startswith("#"):
                for part in ref.lstrip("#").strip("/").split("/"):
                    if part:
                        target = target.get(part, {}) if isinstance(target, dict) else {}
            else:
                target = {}
            merged = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**target, **merged} if isinstance(target, dict) else merged
            seen += 1
        return schema if isinstance(schema, dict) else {}

    def value(self, schema: Any, name: str, depth: int = 0) -> Any:
        node = self.resolve(schema)
        if depth > 8:
            return None
        if "const" in node:
            return node["const"]
        if isinstance(node.get("enum"), list) and node["enum"]:
            return node["enum"][0]
        for key in ("anyOf", "oneOf"):
            options = node.get(key)
            if isinstance(options, list) and options:
                resolved = [self.resolve(o) for o in options]
                non_null = [o for o in resolved if o.get("type") != "null"]
                return self.value((non_null or resolved)[0], name, depth + 1)
        all_of = node.get("allOf")
        if isinstance(all_of, list) and all_of:
            merged: dict[str, Any] = {}
            for part in all_of:
                merged.update(self.resolve(part))
            rest = {k: v for k, v in node.items() if k != "allOf"}
            return self.value({**merged, **rest}, name, depth + 1)
        kind = node.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind is None:
            kind = "object" if "properties" in node else ("array" if "items" in node else "string")
        if kind == "object":
            return self.object(node, depth)
        if kind == "array":
            return self.array(node, name, depth)
        if kind in ("integer", "number"):
            return self.number(node, integer=kind == "integer")
        if kind == "boolean":
            return True
        if kind == "null":
            return None
        return self.string(node, name)

    def object(self, node: dict[str, Any], depth: int) -> dict[str, Any]:
        props = node.get("properties")
        if not isinstance(props, dict):
            return {}
        required = node.get("required")
        required_set = set(required) if isinstance(required, list) else set()
        result: dict[str, Any] = {}
        for key, sub in props.items():
            # Optional fields appear only when the prompt mentions them, like a model would.
            if key in required_set or key.lower() in self.prompt_words:
                result[key] = self.value(sub, key, depth + 1)
        return result

    def array(self, node: dict[str, Any], name: str, depth: int) -> list[Any]:
        items = self.resolve(node.get("items", {}))
        low = node.get("minItems", 1)
        high = node.get("maxItems", max(low, 1) if isinstance(low, int) else 1)
        low = low if isinstance(low, int) else 1
        count = max(low, 1)
        if items.get("type") in ("integer", "number"):
            remaining = len(self.prompt.numbers) - self.prompt.number_pos
            count = max(count, remaining)
            if isinstance(node.get("maxItems"), int):
                count = min(count, high)
        return [self.value(items, name, depth + 1) for _ in range(count)]

    def number(self, node: dict[str, Any], *, integer: bool) -> int | float:
        found = self.prompt.next_number()
        if found is None:
            default = node.get("default")
            found = float(default) if is_number(default) else 1.0
        bounds = {k: node.get(k) for k in ("minimum", "maximum", "exclusiveMinimum")}
        bounds["exclusiveMaximum"] = node.get("exclusiveMaximum")
        step = 1.0 if integer else 0.5
        low, high = bounds["minimum"], bounds["maximum"]
        ex_low, ex_high = bounds["exclusiveMinimum"], bounds["exclusiveMaximum"]
        if is_number(low) and found < low:
            found = float(low)
        if is_number(ex_low) and found <= ex_low:
            found = float(ex_low) + step
        if is_number(high) and found > high:
            found = float(high)
        if is_number(ex_high) and found >= ex_high:
            found = float(ex_high) - step
        if integer or found.is_integer():
            return int(found)
        return found

    def string(self, node: dict[str, Any], name: str) -> str:
        fmt = node.get("format")
        fixed = {
            "date-time": "2025-01-01T00:00:00Z",
            "date": "2025-01-01",
            "time": "00:00:00",
            "email": "user@example.com",
            "uri": "https://example.com",
            "uuid": "00000000-0000-4000-8000-000000000000",
        }
        if fmt in fixed:
            return fixed[fmt]
        text = self.prompt.next_string()
        if text is None:
            label = name.replace("_", " ") if name else "text"
            snippet = self.prompt.snippet()
            text = f"{label} for: {snippet}" if snippet else label
        low = node.get("minLength")
        high = node.get("maxLength")
        if isinstance(low, int) and len(text) < low:
            text = text + "x" * (low - len(text))
        if isinstance(high, int) and len(text) > high:
            text = text[:high]
        return text


def fill_schema(schema: Any, prompt_text: str) -> Any:
    """Build a value valid against ``schema`` using numbers and strings found in the prompt.

    Args:
        schema: A JSON schema (``$ref``/``$defs``, ``anyOf``, enums, arrays, nested objects).
        prompt_text: Text mined for numbers (in order) and strings (quoted text, non-ASCII runs,
            capitalised phrases, in that order).
    """
    root = schema if isinstance(schema, dict) else {}
    return SchemaFiller(root, Prompt.mine(prompt_text)).value(root, "")


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
        for position, match in enumerate(matches):
            candidate = next(g for g in match.groups() if g is not None)
            end = matches[position + 1].start() if position + 1 < len(matches) else len(source)
            if IDENTIFIER.match(candidate) and candidate not in keys:
                keys[candidate] = source[match.end() : end]
        if keys:
            prompt = Prompt.mine(QUOTED.sub(" ", values_text or user_text))
            prompt.strings = []
            filler = SchemaFiller({}, prompt)
            return {key: _json_mode_value(filler, key, after) for key, after in keys.items()}
    return {"answer": echo_text(user_text, 0)}


def _json_mode_value(filler: SchemaFiller, key: str, after: str) -> Any:
    given = _NUMBER_AFTER_KEY.match(after)
    if given is not None:
        number = float(given.group(1))
        return int(number) if number.is_integer() else number
    if _NUMBER_HINT.match(after) or _NUMERIC_NAME.search(key):
        return filler.number({}, integer=False)
    return filler.string({}, key)
