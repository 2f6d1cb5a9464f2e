"""Pydantic validation errors as ``field.path: what was expected (got ...)`` lines.

Paths are written the way a person finds them in the YAML file:
``objectives[0].outcomes[1].kpis[0].targets.P2``. Pydantic puts the tag of a discriminated union
in its locations (``kpis[0].time_to_target.targets``) and ``[key]`` after a bad dictionary key;
both are removed by walking the model's annotations along the location.
"""

from __future__ import annotations

from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError


def describe_errors(error: ValidationError, model: type[BaseModel]) -> list[str]:
    """One line per problem; whole-model checks may report several lines each."""
    return [_describe(item, model) for item in error.errors()]


def field_path(loc: tuple[Any, ...]) -> str:
    """``('state', 'events', 'Wait - User', 0)`` -> ``state.events['Wait - User'][0]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif str(part).isidentifier():
            out += ("." if out else "") + str(part)
        else:
            out += f"[{str(part)!r}]"
    return out


def _describe(error: Any, model: type[BaseModel]) -> str:
    raw_loc = tuple(error.get("loc", ()))
    loc, annotation = _clean_walk(raw_loc, model)
    kind = error.get("type", "")
    message = str(error.get("msg", "invalid"))
    value = error.get("input")
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        _, parent = _clean_walk(raw_loc[:-1], model)
        allowed = _keys_of(parent)
        message = "unknown key" + (f"; expected one of: {', '.join(allowed)}" if allowed else "")
    elif kind == "missing":
        message = "required, but missing"
    elif kind == "union_tag_not_found":
        loc = (*loc, str(ctx.get("discriminator", "kind")).strip("'"))
        message = f"required, but missing; expected one of: {_tags_text(annotation)}"
        value = None
    elif kind == "union_tag_invalid":
        key = str(ctx.get("discriminator", "kind")).strip("'")
        loc = (*loc, key)
        message = f"expected one of: {_tags_text(annotation)}"
        value = ctx.get("tag")
    else:
        message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
        message = message.replace("Input should be ", "expected ")
    if not loc:  # whole-model checks: one problem a line, each starting with its field path
        return message.replace("\n", "\n  ")
    scalar = isinstance(value, str | int | float | bool)
    if scalar and kind not in ("missing", "extra_forbidden") and "(got " not in message:
        message += f" (got {value!r})"
    return f"{field_path(loc)}: {message}"


def _clean_walk(loc: tuple[Any, ...], model: type[BaseModel]) -> tuple[tuple[Any, ...], Any]:
    """Drop union tags and ``[key]`` markers; also return the annotation reached."""
    kept: list[Any] = []
    current: Any = model
    for part in loc:
        if part == "[key]":
            continue
        tagged = _tagged_members(current)
        if tagged and part in tagged:
            current = tagged[part]
            continue
        kept.append(part)
        current = _step(current, part)
    return tuple(kept), current


def _strip(annotation: Any) -> Any:
    """Remove ``Annotated`` and ``Optional`` wrappers."""
    while True:
        if get_origin(annotation) is Annotated:
            annotation = get_args(annotation)[0]
        elif get_origin(annotation) in (Union, UnionType):
            args = [a for a in get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation


def _tagged_members(annotation: Any) -> dict[str, type[BaseModel]]:
    """For a union discriminated by a field: each tag value and its model."""
    name = _discriminator(annotation)
    union = _strip(annotation)
    if name is None or get_origin(union) not in (Union, UnionType):
        return {}
    members: dict[str, type[BaseModel]] = {}
    for arg in get_args(union):
        field = arg.model_fields.get(name) if issubclass(arg, BaseModel) else None
        if field is not None:
            for tag in get_args(field.annotation):
                members[str(tag)] = arg
    return members


def _discriminator(annotation: Any) -> str | None:
    while get_origin(annotation) is Annotated:
        for meta in get_args(annotation)[1:]:
            name = getattr(meta, "discriminator", None)
            if isinstance(name, str):
                return name
        annotation = get_args(annotation)[0]
    return None


def _step(annotation: Any, part: Any) -> Any:
    annotation = _strip(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        field = annotation.model_fields.get(str(part))
        if field is None:
            return None
        if isinstance(field.discriminator, str):  # keep it: pydantic moved it off the type
            return Annotated[field.annotation, field]
        return field.annotation
    origin = get_origin(annotation)
    if origin is list and isinstance(part, int):
        return get_args(annotation)[0]
    if origin is dict:
        return get_args(annotation)[1]
    return None


def _keys_of(annotation: Any) -> list[str]:
    annotation = _strip(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return list(annotation.model_fields)
    return []


def _tags_text(annotation: Any) -> str:
    return ", ".join(_tagged_members(annotation)) or "?"
