"""Field paths into a JSON document: how a live mapping names a field of a webhook payload.

    issue.key                         object keys, separated by dots
    issue.fields.labels[0]            a list element by index
    changelog.items[field=status].toString   the first list element whose ``field`` is ``status``
    changelog.items[*].field          every element (a list of values)

``compile_path`` checks the syntax once (a ``ValueError`` naming the bad part); ``lookup`` walks a
document and returns ``MISSING`` when any step is absent (a missing key, an index past the end,
no element matching a filter, a step into a value that is not an object or list).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

_STEP = re.compile(r"([^.\[\]]+)?((?:\[[^\]]*\])*)")
_INDEX = re.compile(r"\[([^\]]*)\]")


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()


@dataclass(frozen=True, slots=True)
class _Key:
    name: str


@dataclass(frozen=True, slots=True)
class _Index:
    index: int


@dataclass(frozen=True, slots=True)
class _Match:
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class _Every:
    pass


_Step = _Key | _Index | _Match | _Every


@dataclass(frozen=True, slots=True)
class JsonPath:
    text: str
    steps: tuple[_Step, ...]

    @property
    def fans_out(self) -> bool:
        return any(isinstance(s, _Every) for s in self.steps)

    def lookup(self, document: Any) -> Any:
        return _walk(document, self.steps)


def compile_path(text: str) -> JsonPath:
    if not text or text != text.strip():
        raise ValueError(f"{text!r} is not a field path (expected names separated by dots)")
    steps: list[_Step] = []
    for part in text.split("."):
        match = _STEP.fullmatch(part)
        if match is None or (match.group(1) is None and not match.group(2)):
            raise ValueError(f"{text!r}: {part!r} is not a field name (expected a.b[0].c)")
        if match.group(1) is not None:
            steps.append(_Key(match.group(1)))
        for inner in _INDEX.findall(match.group(2)):
            steps.append(_bracket(text, inner))
    return JsonPath(text, tuple(steps))


def _bracket(text: str, inner: str) -> _Step:
    if inner == "*":
        return _Every()
    if inner.isdigit():
        return _Index(int(inner))
    key, sep, value = inner.partition("=")
    if sep and key and value:
        return _Match(key.strip(), value.strip())
    raise ValueError(f"{text!r}: [{inner}] must be an index [0], a filter [key=value] or [*]")


def _walk(value: Any, steps: tuple[_Step, ...]) -> Any:
    for n, step in enumerate(steps):
        if isinstance(step, _Key):
            value = value.get(step.name, MISSING) if isinstance(value, dict) else MISSING
        elif not isinstance(value, list):
            return MISSING
        elif isinstance(step, _Index):
            value = value[step.index] if step.index < len(value) else MISSING
        elif isinstance(step, _Match):
            value = next(
                (e for e in value if isinstance(e, dict) and _text(e.get(step.key)) == step.value),
                MISSING,
            )
        else:
            found = [_walk(e, steps[n + 1 :]) for e in value]
            return [f for f in found if f is not MISSING]
        if value is MISSING:
            return MISSING
    return value


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
