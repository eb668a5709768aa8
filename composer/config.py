"""Config dataclasses round-trip through plain dicts (stored as JSON inside
model files)."""
from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T", bound="ConfigMixin")


class ConfigMixin:
    def to_dict(self) -> dict[str, Any]:
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls: type[T], data: dict[str, Any]) -> T:
        if not isinstance(data, dict):
            raise TypeError(f"{cls.__name__} needs a dict, got {type(data).__name__}")
        names = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise ValueError(f"{cls.__name__}: unknown field(s) {', '.join(unknown)}")
        kwargs = {}
        for key, value in data.items():
            default = names[key].default
            if isinstance(value, list) and isinstance(default, tuple):
                value = tuple(tuple(v) if isinstance(v, list) else v for v in value)
            kwargs[key] = value
        return cls(**kwargs)
