"""Typed configuration, read once at the boundary (a TOML file plus environment variables)."""

from __future__ import annotations

import os
import re
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


EMBED_KEYS = ("title", "title+description", "all")
DEFAULT_EMBED_KEY = "all"
LEGACY_EMBED_KEY = "title+description"
"""What a pool made before the key was recorded in pool.json embedded."""
OBJECT_STORE_SCHEMES = ("s3", "s3+ddb", "gs", "az", "abfs", "abfss")
"""URI schemes of pools on object storage (LanceDB's object-store backends)."""

_URI = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<rest>.*)$")
# `Path("s3://bucket/pool")` collapses the double slash: "s3:/bucket/pool".
_COLLAPSED_URI = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*):/(?P<rest>[^/].*)$")


def object_store_uri(location: str | os.PathLike[str]) -> str | None:
    """``location`` as an object-store URI (``s3://bucket/pool``), or None for a local path. A
    Raises ConfigError for a URI of another scheme (``file://``, ``http://``: use a path) or one
    without a bucket."""
    text = os.fspath(location)
    match = _URI.match(text)
    if match is None and isinstance(location, Path):
        match = _COLLAPSED_URI.match(text)
    if match is None:
        return None
    scheme = match["scheme"].lower()
    if scheme not in OBJECT_STORE_SCHEMES:
        raise ConfigError(
            f"{text}: pools live in a directory or on object storage ({', '.join(OBJECT_STORE_SCHEMES)}); "
            f"{scheme}:// is neither"
        )
    rest = match["rest"].strip("/")
    if not rest:
        raise ConfigError(f"{text}: an object-store pool needs a bucket (for example {scheme}://bucket/pool)")
    return f"{scheme}://{rest}"


@attrs.frozen
class TeamConfig:
    """The team pool (``[team]`` in config.toml): a pool on object storage (or a shared directory)
    holding the memories people chose to share. Credentials and endpoint come from each store's own
    environment (AWS_ACCESS_KEY_ID, AWS_ENDPOINT_URL, ...; GOOGLE_APPLICATION_CREDENTIALS;
    AZURE_STORAGE_ACCOUNT_NAME, ...), never from this file."""

    uri: str = ""
    """``s3://bucket/pool``, ``gs://…``, ``az://…`` or a directory; empty: no team pool."""
    user: str = ""
    """Who shares (shown on every memory one shares); empty: $USER."""
    timeout_s: float = attrs.field(default=5.0, validator=attrs.validators.gt(0))
    """How long one request to the team pool may take before the pool counts as unreachable."""
    retry_after_s: float = attrs.field(default=30.0, validator=attrs.validators.ge(0))
    """After a failure, how long reads skip the team pool (and queued shares wait) before trying again."""

    @property
    def enabled(self) -> bool:
        return bool(self.uri.strip())

    def who(self, environ: Mapping[str, str] | None = None) -> str:
        env = os.environ if environ is None else environ
        return self.user.strip() or env.get("USER", "") or env.get("USERNAME", "") or "unknown"


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
    embed_key: str = attrs.field(default=DEFAULT_EMBED_KEY, validator=attrs.validators.in_(EMBED_KEYS))
    """What a new pool embeds of each memory (``all``: title, description and content); a pool keeps
    the key it was made with (pool.json) until ``carryover reembed --key`` moves it."""
    pool_uri: str = ""
    """The pool on object storage (``s3://bucket/pool``) when it is not the directory ``pool_dir``."""
    team: TeamConfig = attrs.field(factory=TeamConfig)

    @property
    def location(self) -> str:
        """Where the pool is, as a user would name it: the object-store URI or the directory."""
        return self.pool_uri or str(self.pool_dir)

    @property
    def remote(self) -> bool:
        """Whether the pool is on object storage (no local file lock; LanceDB's commit protocol)."""
        return bool(self.pool_uri)


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
    db: Path | str | None = None, environ: Mapping[str, str] | None = None, config_file: Path | None = None
) -> StoreConfig:
    """Read ``<home>/config.toml`` (if any) and the environment into a StoreConfig.

    ``db`` (the ``--db`` option) names the pool itself, a directory or an object-store URI
    (``s3://bucket/pool``), and wins over everything else. CARRYOVER_TEAM_URI and CARRYOVER_TEAM_USER
    override ``[team]``.
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
    team_raw = dict(raw.pop("team", {}))
    if env.get("CARRYOVER_TEAM_URI"):
        team_raw["uri"] = env["CARRYOVER_TEAM_URI"]
    if env.get("CARRYOVER_TEAM_USER"):
        team_raw["user"] = env["CARRYOVER_TEAM_USER"]
    location: Path | str = db if db else (raw.pop("pool_dir", "") or home / "pool")
    raw.pop("pool_dir", None)
    pool_uri = object_store_uri(location) or ""
    try:
        embedder = _structure_section(embedder_raw, EmbedderConfig, "[embedder]")
        ranking = _structure_section(raw.pop("ranking", {}), RankingConfig, "[ranking]")
        team = _structure_section(team_raw, TeamConfig, "[team]")
        if team.enabled and object_store_uri(team.uri) is None:
            team = attrs.evolve(team, uri=str(Path(team.uri).expanduser()))
        return StoreConfig(
            home=home,
            pool_dir=home / "pool" if pool_uri else Path(location).expanduser(),
            embedder=embedder,
            ranking=ranking,
            pool_uri=pool_uri,
            team=team,
            **_structure_section(raw, _TopLevel, "top level").as_kwargs(),
        )
    except (cattrs.BaseValidationError, ValueError, TypeError) as error:
        raise ConfigError(f"{path}: {_describe(error)}") from error


@attrs.frozen
class _TopLevel:
    dedup_threshold: float = 0.95
    index_min_rows: int = 20_000
    refine_factor: int = 4
    embed_key: str = DEFAULT_EMBED_KEY

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
