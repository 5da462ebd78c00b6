"""Configuration is read once, typed, and bad values are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from carryover.pool.config import ConfigError, load_config


def test_defaults_follow_xdg_and_carryover_home(tmp_path: Path) -> None:
    config = load_config(environ={"CARRYOVER_HOME": str(tmp_path)})
    assert config.home == tmp_path
    assert config.pool_dir == tmp_path / "pool"
    assert config.embedder.provider == "local"
    assert (
        load_config(db=tmp_path / "x", environ={"CARRYOVER_HOME": str(tmp_path)}).pool_dir == tmp_path / "x"
    )


def test_xdg_data_home_is_used_without_carryover_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    config = load_config(environ={})
    assert config.pool_dir == tmp_path / "data" / "carryover" / "pool"


def test_config_file_and_environment(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        'dedup_threshold = 0.9\n[embedder]\nprovider = "openai"\nmodel = "m"\nbase_url = "http://127.0.0.1:9/v1"\n'
        "[ranking]\ninsight_weight = 1.2\n"
    )
    config = load_config(environ={"CARRYOVER_HOME": str(tmp_path), "CARRYOVER_MODEL_DIR": "/models"})
    assert config.dedup_threshold == 0.9
    assert config.embedder.provider == "openai"
    assert config.embedder.model_dir == "/models"
    assert config.ranking.insight_weight == 1.2
    forced = load_config(environ={"CARRYOVER_HOME": str(tmp_path), "CARRYOVER_EMBEDDER": "local"})
    assert forced.embedder.provider == "local"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[ranking]\ninsight_weigth = 2\n", "unknown setting(s): insight_weigth"),
        ("embed_key = 'content'\n", "embed_key"),
        ("this is = not toml =\n", "not valid TOML"),
        ("[embedder]\nprovider = 'telepathy'\n", "'provider' must be in"),
    ],
)
def test_bad_config_names_the_problem(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "config.toml").write_text(text)
    with pytest.raises(ConfigError, match=r"config\.toml") as error:
        load_config(environ={"CARRYOVER_HOME": str(tmp_path)})
    assert message in str(error.value)


def test_the_api_key_is_never_in_the_repr(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[embedder]\napi_key = "sk-very-secret-value"\n')
    config = load_config(environ={"CARRYOVER_HOME": str(tmp_path)})
    assert "sk-very-secret-value" not in repr(config)
