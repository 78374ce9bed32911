"""Job params: `key=value` strings to a validated params model, and a description of each param."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any, get_args, get_origin

from pydantic import ValidationError

from aigc.core.errors import InvalidParams, excerpt
from aigc.core.plugin import JobKind, JobParams, PathParam, Plugin


@dataclass(frozen=True)
class ParamInfo:
    name: str
    type: str
    default: Any
    limits: str
    help: str


def parse_assignments(pairs: Iterable[str]) -> dict[str, Any]:
    """`["n=64", "stop=[\\"\\\\n\\"]"]` to a dict; JSON lists/objects are decoded, scalars stay strings
    for pydantic to coerce against the declared type."""
    raw: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InvalidParams(f"param {excerpt(pair)} is not of the form key=value")
        if key in raw:
            raise InvalidParams(f"param {excerpt(key)} is given twice")
        raw[key] = _decode(value)
    return raw


def _decode(value: str) -> Any:
    if value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def validate_params(plugin: type[Plugin], kind: JobKind, raw: dict[str, Any]) -> JobParams:
    model = plugin.params_model(kind)
    _refuse_non_utf8(plugin, kind, raw)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise InvalidParams(_explain(plugin, kind, model, exc)) from None


def _refuse_non_utf8(plugin: type[Plugin], kind: JobKind, raw: dict[str, Any]) -> None:
    """Every string must be text that UTF-8 can encode, whatever its param's type: bytes that are not UTF-8
    reach Python as lone surrogates (from argv, as surrogate escapes; from JSON, as \\udcff), which
    the store, the tokenizers and the pages cannot use."""
    for name, text in _strings(raw, ""):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            code = ord(text[exc.start])
            what = f"byte 0x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"lone surrogate U+{code:04X}"
            raise InvalidParams(
                f"invalid param {excerpt(name)} for {plugin.name} {kind}: not UTF-8 text "
                f"({what} at character {exc.start}); give UTF-8 text"
            ) from None


def _strings(value: Any, name: str) -> Iterator[tuple[str, str]]:
    """(dotted name, string) for every string in a param value, the keys of its mappings included."""
    if isinstance(value, str):
        yield name, value
    elif isinstance(value, dict):
        for key, item in value.items():
            inner = f"{name}.{key}" if name else str(key)
            if isinstance(key, str):
                yield inner, key
            yield from _strings(item, inner)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _strings(item, f"{name}.{index}")


def _explain(plugin: type[Plugin], kind: JobKind, model: type[JobParams], exc: ValidationError) -> str:
    error = exc.errors()[0]
    name = ".".join(str(part) for part in error["loc"]) or "params"
    accepted = ", ".join(f"{p.name} ({p.type}{', ' + p.limits if p.limits else ''})" for p in describe(model))
    if error["type"] == "extra_forbidden":
        return f"unknown param {excerpt(name)} for {plugin.name} {kind}; accepted: {accepted}"
    message = error["msg"].removeprefix("Value error, ")
    if not error["loc"]:  # a check across several params: no single value to echo
        return f"invalid params for {plugin.name} {kind}: {message}"
    info = {p.name: p for p in describe(model)}.get(name.split(".")[0])
    expected = f"; expected {info.type}{', ' + info.limits if info and info.limits else ''}" if info else ""
    got = excerpt(error.get("input"))
    return f"invalid param {excerpt(name)} for {plugin.name} {kind}: {message} (got {got}){expected}"


def path_params(model: type[JobParams]) -> dict[str, PathParam]:
    """The params that name files (declared `DataPath`, or annotated with a `PathParam`), by name."""
    found = {}
    for name, info in model.model_fields.items():
        marks = [m for m in info.metadata if isinstance(m, PathParam)] + list(_marks_in(info.annotation))
        if marks:
            found[name] = marks[0]
    return found


def _marks_in(annotation: Any) -> Iterator[PathParam]:
    """PathParam marks anywhere in a type: `DataPath | None`, `list[DataPath]`..."""
    if get_origin(annotation) is Annotated:
        yield from (m for m in annotation.__metadata__ if isinstance(m, PathParam))
    for arg in get_args(annotation):
        yield from _marks_in(arg)


def describe(model: type[JobParams]) -> list[ParamInfo]:
    """Each param's type, default, limits and help, from the model's JSON schema."""
    return describe_schema(model.model_json_schema())


def describe_schema(schema: dict[str, Any]) -> list[ParamInfo]:
    """`describe` from a params model's JSON schema (as `GET /api/plugins/NAME` gives it)."""
    params = []
    for name, prop in schema.get("properties", {}).items():
        params.append(
            ParamInfo(
                name=name,
                type=_type_of(prop, schema),
                default=prop.get("default"),
                limits=_limits_of(prop),
                help=prop.get("description", ""),
            )
        )
    return params


def _type_of(prop: dict[str, Any], schema: dict[str, Any]) -> str:
    if "enum" in prop:
        return " | ".join(json.dumps(v) for v in prop["enum"])
    if "const" in prop:
        return json.dumps(prop["const"])
    if "$ref" in prop:
        target = schema.get("$defs", {}).get(prop["$ref"].rsplit("/", 1)[-1], {})
        return _type_of(target, schema)
    if "anyOf" in prop:
        kinds = [_type_of(p, schema) for p in prop["anyOf"]]
        return " | ".join(k for k in kinds if k != "null") + (" | null" if "null" in kinds else "")
    kind = prop.get("type", "any")
    if kind == "array":
        return f"list[{_type_of(prop.get('items', {}), schema)}]"
    return {"integer": "int", "number": "float", "string": "str", "boolean": "bool"}.get(kind, kind)


def _limits_of(prop: dict[str, Any]) -> str:
    for option in prop.get("anyOf", []):
        if option.get("type") != "null":
            prop = {**option, **{k: v for k, v in prop.items() if k != "anyOf"}}
    low = prop.get("minimum", prop.get("exclusiveMinimum"))
    high = prop.get("maximum", prop.get("exclusiveMaximum"))
    parts = []
    if low is not None or high is not None:
        lo = "" if low is None else f"{low}{'<' if 'exclusiveMinimum' in prop else '≤'}"
        hi = "" if high is None else f"{'<' if 'exclusiveMaximum' in prop else '≤'}{high}"
        parts.append(f"{lo}x{hi}")
    if "minLength" in prop or "maxLength" in prop:
        parts.append(f"length {prop.get('minLength', 0)}..{prop.get('maxLength', '')}")
    if "pattern" in prop:
        parts.append(f"matches {prop['pattern']}")
    return ", ".join(parts)
