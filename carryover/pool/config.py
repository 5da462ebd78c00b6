"""Typed configuration, read once at the boundary (a TOML file plus environment variables)."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import attrs
import cattrs

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on 3.10
    import tomli as tomllib


class ConfigError(ValueError):
    """The configuration file or environment holds something unusable; the message says what."""


@attrs.frozen
class RankingConfig:
    """How search results are ordered. Similarities are cosine, in [-1, 1]."""

    insight_weight: float = 1.0
    summary_weight: float = 0.96
    workflow_weight: float = 0.92
    trajectory_weight: float = 0.88
    pinned_bonus: float = 0.08
    feedback_scale: float = 0.06
    cross_language_factor: float = 0.92
    procedural_cross_language_factor: float = 0.0
    """A trajectory or workflow from another language: 0 withholds it (the default); above 0 it is
    shown, its score multiplied by this factor."""
    candidates: int = 40
    transfer_guard: bool = True
    plan_weight: float = 0.75


@attrs.frozen
class EmbedderConfig:
    """Which embedder turns text into vectors. ``local`` needs no network; ``openai`` speaks to the
    configured OpenAI-compatible endpoint (base URL and key also read from OPENAI_BASE_URL and
    OPENAI_API_KEY)."""

    provider: str = attrs.field(default="local", validator=attrs.validators.in_(("local", "openai")))
    model: str = ""
    base_url: str = ""
    api_key: str = attrs.field(default="", repr=False)
    dimensions: int | None = None
    model_dir: str = ""


@attrs.frozen
class StoreConfig:
    """Everything the pool needs to open a pool."""

    home: Path
    pool_dir: Path
    embedder: EmbedderConfig = attrs.field(factory=EmbedderConfig)
    ranking: RankingConfig = attrs.field(factory=RankingConfig)
    dedup_threshold: float = 0.95
    index_min_rows: int = 20_000
    refine_factor: int = 4
    embed_key: str = attrs.field(
        default="title+description", validator=attrs.validators.in_(("title", "title+description", "all"))
    )


_converter = cattrs.Converter(forbid_extra_keys=True)
_Section = TypeVar("_Section")


def default_home(environ: Mapping[str, str] | None = None) -> Path:
    """CARRYOVER_HOME, else the user's data directory (XDG_DATA_HOME on Linux)."""
    env = os.environ if environ is None else environ
    explicit = env.get("CARRYOVER_HOME")
    if explicit:
        return Path(explicit).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("carryover", appauthor=False))


def load_config(
    db: Path | None = None, environ: Mapping[str, str] | None = None, config_file: Path | None = None
) -> StoreConfig:
    """Read ``<home>/config.toml`` (if any) and the environment into a StoreConfig.

    ``db`` (the ``--db`` option) names the pool directory itself and wins over everything else.
    """
    env = os.environ if environ is None else environ
    home = default_home(env)
    path = config_file or home / "config.toml"
    raw: dict[str, Any] = {}
    if path.is_file():
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise ConfigError(f"{path}: not valid TOML: {error}") from error
    embedder_raw = dict(raw.pop("embedder", {}))
    if env.get("CARRYOVER_EMBEDDER"):
        embedder_raw["provider"] = env["CARRYOVER_EMBEDDER"]
    if env.get("CARRYOVER_MODEL_DIR"):
        embedder_raw["model_dir"] = env["CARRYOVER_MODEL_DIR"]
    try:
        embedder = _structure_section(embedder_raw, EmbedderConfig, "[embedder]")
        ranking = _structure_section(raw.pop("ranking", {}), RankingConfig, "[ranking]")
        pool_dir = db or Path(raw.pop("pool_dir", "") or home / "pool")
        return StoreConfig(
            home=home,
            pool_dir=Path(pool_dir).expanduser(),
            embedder=embedder,
            ranking=ranking,
            **_structure_section(raw, _TopLevel, "top level").as_kwargs(),
        )
    except (cattrs.BaseValidationError, ValueError, TypeError) as error:
        raise ConfigError(f"{path}: {_describe(error)}") from error


@attrs.frozen
class _TopLevel:
    dedup_threshold: float = 0.95
    index_min_rows: int = 20_000
    refine_factor: int = 4
    embed_key: str = "title+description"

    def as_kwargs(self) -> dict[str, Any]:
        return attrs.asdict(self)


def _structure_section(raw: Any, cls: type[_Section], section: str) -> _Section:
    try:
        return _converter.structure(raw, cls)
    except (cattrs.BaseValidationError, ValueError, TypeError) as error:
        raise ValueError(f"{section}: {_describe(error)}") from error


def _describe(error: BaseException) -> str:
    """The innermost messages of a (possibly nested) cattrs validation error."""
    if isinstance(error, cattrs.ForbiddenExtraKeysError):
        return f"unknown setting(s): {', '.join(sorted(error.extra_fields))}"
    if isinstance(error, cattrs.BaseValidationError):
        return "; ".join(_describe(inner) for inner in error.exceptions)
    if isinstance(error, ValueError) and error.args and isinstance(error.args[0], str):
        return error.args[0]
    return str(error)
