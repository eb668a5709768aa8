"""The kinds of rule a model file's metadata fields follow (integer in a
range, one of some texts, a list of at most N items, an object of known
fields...), each checking a JSON value and naming the field that breaks it.
The table of fields is composer.model.metadata_schema."""
from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import accumulate


class FieldError(ValueError):
    """A metadata field breaks its rule; the message names the field."""

    def __init__(self, name: str, problem: str):
        super().__init__(f"metadata field {name} {problem}")
        self.field = name


def _got(value) -> str:
    """How a message shows a bad value."""
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, list):
        return f"a list of {len(value)} item(s)"
    if isinstance(value, dict):
        return "an object"
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, str) else repr(value)   # one line
    return text if len(text) <= 40 else text[:37] + "..."


def _join(name: str, key: str) -> str:
    return f"{name}.{key}" if name else key


class Rule:
    """A field's rule: `check` raises FieldError unless the value fits."""

    def fits(self, value) -> bool:
        raise NotImplementedError

    def check(self, value, name: str) -> None:
        if not self.fits(value):
            raise FieldError(name, f"must be {self}, got {_got(value)}")


@dataclass(frozen=True)
class Int(Rule):
    low: int = 0
    high: int = 0
    choices: tuple = ()

    def fits(self, value) -> bool:
        if isinstance(value, bool) or not isinstance(value, int):
            return False
        return value in self.choices if self.choices else self.low <= value <= self.high

    def __str__(self):
        return f"one of {', '.join(map(str, self.choices))}" if self.choices else f"an integer {self.low}..{self.high}"


@dataclass(frozen=True)
class Number(Rule):
    low: float
    high: float
    below_high: bool = False          # the range excludes `high`

    def fits(self, value) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return False
        return self.low <= value and (value < self.high if self.below_high else value <= self.high)

    def __str__(self):
        return f"a number from {self.low:g} to {'below ' if self.below_high else ''}{self.high:g}"


@dataclass(frozen=True)
class Bool(Rule):
    def fits(self, value) -> bool:
        return isinstance(value, bool)

    def __str__(self):
        return "true or false"


@dataclass(frozen=True)
class Null(Rule):
    def fits(self, value) -> bool:
        return value is None

    def __str__(self):
        return "null"


@dataclass(frozen=True)
class Text(Rule):
    longest: int = 1000
    choices: tuple = ()

    def fits(self, value) -> bool:
        if not isinstance(value, str):
            return False
        return value in self.choices if self.choices else len(value) <= self.longest

    def __str__(self):
        if self.choices:
            return "one of " + ", ".join(f'"{c}"' for c in self.choices)
        return f"a text of at most {self.longest:,} characters"


@dataclass(frozen=True)
class Either(Rule):
    """Any of `options`; a list or object goes to the option for its type."""

    options: tuple

    def fits(self, value) -> bool:
        return any(option.fits(value) for option in self.options)

    def check(self, value, name: str) -> None:
        for option in self.options:
            if isinstance(option, (ListOf, Pair, Record)) and isinstance(value, option.kind):
                return option.check(value, name)
        super().check(value, name)

    def __str__(self):
        return " or ".join(map(str, self.options))


@dataclass(frozen=True)
class ListOf(Rule):
    item: Rule
    most: int
    least: int = 0
    kind = list

    def fits(self, value) -> bool:
        return isinstance(value, list) and self.least <= len(value) <= self.most

    def check(self, value, name: str) -> None:
        super().check(value, name)
        for i, item in enumerate(value):
            self.item.check(item, f"{name}[{i}]")

    def __str__(self):
        return f"a list of {self.least}..{self.most:,} items"


@dataclass(frozen=True)
class Pair(Rule):
    """A list of two, [first, second] (a time signature's numerator and denominator)."""

    first: Rule
    second: Rule
    kind = list

    def fits(self, value) -> bool:
        return isinstance(value, list) and len(value) == 2

    def check(self, value, name: str) -> None:
        super().check(value, name)
        self.first.check(value[0], f"{name}[0]")
        self.second.check(value[1], f"{name}[1]")

    def __str__(self):
        return "a list of two"


@dataclass(frozen=True)
class Record(Rule):
    """An object with these `fields`; `others` is the rule of any other key
    (None: other keys are refused)."""

    fields: Mapping[str, Rule]
    required: tuple = ()
    others: Rule | None = None
    most: int = 1000                  # keys
    kind = dict

    def fits(self, value) -> bool:
        return isinstance(value, dict)

    def check(self, value, name: str) -> None:
        super().check(value, name)
        if len(value) > self.most:
            raise FieldError(name, f"has {len(value):,} fields, more than {self.most:,}")
        for key in self.required:
            if key not in value:
                raise FieldError(_join(name, key), "is missing")
        for key, item in value.items():
            rule = self.fields.get(key, self.others)
            if rule is None:
                raise FieldError(_join(name, key), "is not a field this program knows")
            rule.check(item, _join(name, key))

    def __str__(self):
        return "an object"


@dataclass(frozen=True)
class Switch(Rule):
    """An object whose `tag` field (None when absent) picks its Record from `cases`."""

    tag: str
    cases: Mapping[str | None, Record] = field(default_factory=dict)

    def fits(self, value) -> bool:
        return isinstance(value, dict)

    def check(self, value, name: str) -> None:
        super().check(value, name)
        tag = value.get(self.tag)
        if not isinstance(tag, (str, type(None))) or tag not in self.cases:
            known = ", ".join(f'"{c}"' for c in self.cases if c is not None)
            raise FieldError(_join(name, self.tag), f"must be one of {known}"
                             + (" or absent" if None in self.cases else "") + f", got {_got(tag)}")
        self.cases[tag].check(value, name)

    def __str__(self):
        return "an object"


@dataclass(frozen=True)
class Json(Rule):
    """Any JSON value nested at most `depth` levels deep (free-form summaries)."""

    depth: int

    def fits(self, value) -> bool:
        return True

    def check(self, value, name: str, depth: int | None = None) -> None:
        depth = self.depth if depth is None else depth
        if isinstance(value, (list, dict)):
            if depth <= 0:
                raise FieldError(name, f"nests lists or objects deeper than {self.depth} levels")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                self.check(item, f"{name}.{key}" if isinstance(value, dict) else f"{name}[{key}]", depth - 1)

    def __str__(self):
        return "JSON"


_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r'[^\[\]{}]+')
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def nesting_depth(text: str) -> int:
    """How deep the arrays and objects of the JSON `text` nest, found without
    parsing it (Python's parser recurses, and would fail on deep text)."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)
