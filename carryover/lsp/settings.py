"""The server's settings (section ``carryover``), typed and read once at the boundary.

They arrive camelCase from ``initializationOptions`` and ``workspace/didChangeConfiguration`` (or a
``workspace/configuration`` pull), either bare or wrapped in ``{"carryover": {...}}``. A change is
merged over the settings in force, so a client may send only what changed. Unknown keys are reported
(and ignored); a value of the wrong type rejects the whole change, and the previous settings stay.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

SECTION = "carryover"
LOG_LEVELS = ("off", "error", "warning", "info", "debug")
SCOPES = ("project", "global", "team")


class SettingsError(ValueError):
    """A settings change that cannot be used; the message says which value and why."""


def _scopes(value: tuple[str, ...]) -> tuple[str, ...]:
    unknown = sorted(set(value) - set(SCOPES))
    if unknown:
        raise ValueError(f"unknown scope(s) {', '.join(unknown)}; use {', '.join(SCOPES)}")
    return value


def _in_range(low: float, high: float) -> Any:
    def check(_instance: object, attribute: attrs.Attribute[float], value: float) -> None:
        if not low <= value <= high:
            raise ValueError(f"{attribute.name} must be between {low} and {high}, got {value}")

    return check


@attrs.frozen
class Surfaces:
    """Which editor surfaces show memories."""

    hover: bool = True
    code_actions: bool = True
    code_lens: bool = True
    inlay_hints: bool = False
    diagnostics: bool = True


@attrs.frozen
class JudgeSettings:
    """The judge (recall/judge.py): a chat model that reads the top candidates of a diagnostic's or a
    failed run's moment in the background, writes a short plan and drops what does not apply. Off
    unless ``enabled``: it sends moments and memory text (redacted) to the endpoint."""

    enabled: bool = False
    endpoint: str = ""
    """An OpenAI-compatible base URL; empty: the distillation ``endpoint``."""
    model: str = ""
    """Empty: the distillation ``model``. (The key is the ``key`` setting, else
    ``CARRYOVER_DISTILL_API_KEY``.)"""
    candidates: int = attrs.field(default=30, validator=_in_range(20, 50))
    """How many of the offline order's top candidates it reads."""
    timeout_ms: int = attrs.field(default=8000, validator=_in_range(500, 60_000))
    """One deadline for the whole call, retries included."""
    max_tokens: int = attrs.field(default=400, validator=_in_range(64, 2000))
    """The longest answer it may write."""


@attrs.frozen
class Settings:
    endpoint: str = ""
    """An OpenAI-compatible endpoint for the distillation model; empty means offline distillation.
    (The pool's embedder is set in config.toml, never by the editor.)"""
    model: str = ""
    key: str = attrs.field(default="", repr=False)
    """The endpoint's API key: never logged, never echoed back."""
    scopes: tuple[str, ...] = attrs.field(default=SCOPES, validator=lambda _i, _a, v: _scopes(v))
    """Memory scopes that may be shown."""
    exclude: tuple[str, ...] = ()
    """Glob patterns of files that get no suggestions and are never captured."""
    surfaces: Surfaces = attrs.field(factory=Surfaces)
    relevance_threshold: float = attrs.field(default=0.0, validator=_in_range(0.0, 1.0))
    """Lowest score (the ranking model's probability) a memory needs to be shown in the hover and code
    actions. 0: whether to speak is decided by evidence (a diagnostic, a failed run, a recognised
    situation on the line), the model only orders."""
    strong_threshold: float = attrs.field(default=0.5, validator=_in_range(0.0, 1.0))
    """Minimum score for the unasked-for surfaces (code lens, inlay hints, hint diagnostics)."""
    max_results: int = attrs.field(default=3, validator=_in_range(1, 10))
    capture: bool = True
    log_level: str = attrs.field(default="info", validator=attrs.validators.in_(LOG_LEVELS))
    """Level of the messages sent to the client with window/logMessage."""
    debounce_ms: int = attrs.field(default=400, validator=_in_range(0, 10_000))
    embed_ahead: bool = True
    """Embed the moments at edited lines, arriving diagnostics and failed runs in the background, so
    that a hover there only searches (features/ahead.py)."""
    judge: JudgeSettings = attrs.field(factory=JudgeSettings)

    def embedder_fields(self) -> tuple[str, str, str]:
        """What decides the embedder; a change of these reopens the pool."""
        return (self.endpoint, self.model, self.key)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _make_converter() -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=False)

    def strict_bool(value: Any, _type: type) -> bool:
        if not isinstance(value, bool):
            raise TypeError(f"expected true or false, got {value!r}")
        return value

    def strict_str(value: Any, _type: type) -> str:
        if not isinstance(value, str):
            raise TypeError(f"expected a string, got {type(value).__name__}")
        return value

    def number(value: Any, target: type) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"expected a number, got {type(value).__name__}")
        if target is int and float(value) != int(value):
            raise TypeError(f"expected a whole number, got {value}")
        return target(value)

    converter.register_structure_hook(bool, strict_bool)
    converter.register_structure_hook(str, strict_str)
    converter.register_structure_hook(int, number)
    converter.register_structure_hook(float, number)
    for cls in (Surfaces, JudgeSettings, Settings):
        renames: dict[str, Any] = {
            field.name: override(rename=_camel(field.name)) for field in attrs.fields(cls)
        }
        converter.register_structure_hook(cls, make_dict_structure_fn(cls, converter, **renames))
        converter.register_unstructure_hook(cls, make_dict_unstructure_fn(cls, converter, **renames))
    return converter


_converter = _make_converter()


def settings_to_wire(settings: Settings) -> dict[str, Any]:
    """The camelCase form, without the key."""
    wire: dict[str, Any] = _converter.unstructure(settings)
    wire.pop("key", None)
    return wire


def unwrap(raw: object) -> Mapping[str, Any] | None:
    """The ``carryover`` section of what a client sent (bare or wrapped), or None when there is none."""
    if not isinstance(raw, Mapping):
        return None
    inner = raw.get(SECTION)
    if isinstance(inner, Mapping):
        return inner
    return raw if raw else None


def unknown_keys(raw: Mapping[str, Any]) -> list[str]:
    known = {_camel(field.name) for field in attrs.fields(Settings)}
    found = [key for key in raw if key not in known]
    for section, cls in (("surfaces", Surfaces), ("judge", JudgeSettings)):
        fields = {_camel(field.name) for field in attrs.fields(cls)}
        nested = raw.get(section)
        if isinstance(nested, Mapping):
            found += [f"{section}.{key}" for key in nested if key not in fields]
    return sorted(found)


def _merge(base: dict[str, Any], change: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in change.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def apply_change(current: Settings, raw: object) -> tuple[Settings, list[str]]:
    """``current`` with what ``raw`` changes; returns the new settings and the unknown keys seen.

    Raises SettingsError when a value is unusable (then nothing changes)."""
    change = unwrap(raw)
    if change is None:
        return current, []
    base = _converter.unstructure(current)
    base["key"] = current.key
    merged = _merge(base, change)
    try:
        settings = _converter.structure(merged, Settings)
    except (cattrs.BaseValidationError, ValueError, TypeError) as error:
        raise SettingsError(describe(error)) from error
    return settings, unknown_keys(change)


def describe(error: BaseException) -> str:
    """Readable messages of a (nested) cattrs validation error, naming the offending setting."""
    if isinstance(error, cattrs.BaseValidationError):
        return "; ".join(cattrs.transform_error(error, path="carryover"))
    return str(error)
