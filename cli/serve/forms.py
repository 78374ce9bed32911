"""A plugin's submit form, built from its params model; posted fields go through the CLI's own parsing.

The form posts strings, exactly as `-p key=value` does, so `parse_assignments` and `validate_params`
judge them the same way for both front ends.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aigc.core.params import describe, parse_assignments
from aigc.core.plugin import JobParams


@dataclass
class FormField:
    name: str
    widget: str  # number | checkbox | select | text
    type: str
    help: str
    limits: str
    default: Any
    required: bool
    value: str = ""
    checked: bool = False
    step: str | None = None
    min: Any = None
    max: Any = None
    options: list[tuple[str, str]] = field(default_factory=list)

    @property
    def placeholder(self) -> str:
        if self.required:
            return "required"
        return "default: none" if self.default is None else f"default: {_text(self.default)}"


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def _plain(prop: dict[str, Any]) -> dict[str, Any]:
    """The non-null branch of an optional field's schema, merged with the field's own keys."""
    for option in prop.get("anyOf", []):
        if option.get("type") != "null":
            return {**option, **{k: v for k, v in prop.items() if k != "anyOf"}}
    return prop


def form_fields(
    model: type[JobParams], values: Mapping[str, Any] | None = None, models: Iterable[tuple[str, str]] = ()
) -> list[FormField]:
    """One field per param, in declaration order, filled from `values` (a job's params or a posted form)."""
    schema = model.model_json_schema()
    required = set(schema.get("required", []))
    values = values or {}
    fields = []
    # The plugin's own params first; seed and device, common to every job, last.
    common = set(JobParams.model_fields)
    for info in sorted(describe(model), key=lambda p: p.name in common):
        prop = _plain(schema["properties"][info.name])
        kind = prop.get("type")
        f = FormField(info.name, "text", info.type, info.help, info.limits, info.default, info.name in required)
        given = values.get(info.name)
        if "enum" in prop:
            f.widget = "select"
            f.options = [("", f"(default: {_text(info.default)})")] + [(_text(v), _text(v)) for v in prop["enum"]]
        elif info.name == "model":
            f.widget = "select"
            f.options = [("", "(newest trained, else bundled)"), ("default", "default (bundled)"), *models]
        elif kind == "boolean":
            f.widget = "checkbox"
            f.checked = bool(info.default) if given is None else str(given).lower() in ("true", "1", "on", "yes")
        elif kind in ("integer", "number"):
            f.widget = "number"
            f.step = "1" if kind == "integer" else "any"
            f.min = prop.get("minimum")
            f.max = prop.get("maximum")
        if given is not None and f.widget != "checkbox":
            f.value = _text(given)
        fields.append(f)
    return fields


def assignments(form: Mapping[str, list[str]], model: type[JobParams]) -> list[str]:
    """`key=value` strings for the params the form filled in; empty fields keep their defaults.

    A checkbox posts a hidden "false" before its own "true", so the last value is the one that counts.
    """
    pairs = []
    for name in model.model_fields:
        posted = [v for v in form.get(name, []) if v.strip() != ""]
        if posted:
            pairs.append(f"{name}={posted[-1].strip()}")
    return pairs


def parse_form(form: Mapping[str, list[str]], model: type[JobParams]) -> dict[str, Any]:
    return parse_assignments(assignments(form, model))


def posted_values(form: Mapping[str, list[str]]) -> dict[str, str]:
    """What the user typed, to fill the form again when it is sent back with an error."""
    return {name: values[-1] for name, values in form.items() if values}
