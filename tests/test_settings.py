from __future__ import annotations

from pathlib import Path

import pytest

from resimply.settings import Settings, SettingsError


def test_defaults_are_the_local_providers() -> None:
    settings = Settings.from_env({})
    assert (settings.scraper, settings.extractor, settings.store) == ("direct", "offline", "sqlite")
    assert settings.dev is False and settings.key_prefix == "resimply:"


def test_credentials_select_the_production_providers() -> None:
    settings = Settings.from_env(
        {
            "APIFY_API_TOKEN": "a",
            "OPENAI_API_KEY": "o",
            "SUPABASE_URL": "http://sb",
            "SUPABASE_KEY": "k",
        }
    )
    assert (settings.scraper, settings.extractor, settings.store) == ("apify", "openai", "supabase")
    assert settings.jwt_issuer == "http://sb/auth/v1"


def test_a_provider_can_be_forced_back_to_local() -> None:
    settings = Settings.from_env({"OPENAI_API_KEY": "o", "RESIMPLY_EXTRACTOR": "offline"})
    assert settings.extractor == "offline"


def test_data_dir_and_limits_come_from_the_environment(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "RESIMPLY_DATA_DIR": str(tmp_path),
            "RESIMPLY_MAX_FRAMES": "3",
            "REDIS_URL": "redis://r:1/2",
        }
    )
    assert settings.data_dir == tmp_path and settings.max_frames == 3
    assert settings.redis_url == "redis://r:1/2"
    assert settings.sqlite_path == tmp_path / "recipes.sqlite3"


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"RESIMPLY_DEV": "1", "SUPABASE_JWT_SECRET": "real"}, "RESIMPLY_DEV"),
        ({"RESIMPLY_MAX_FRAMES": "many"}, "RESIMPLY_MAX_FRAMES"),
        ({"RESIMPLY_MAX_FRAMES": "0"}, "positive"),
        ({"RESIMPLY_STORE": "postgres"}, "RESIMPLY_STORE"),
        ({"RESIMPLY_STORE": "supabase"}, "SUPABASE_URL"),
        ({"RESIMPLY_SCRAPER": "apify"}, "APIFY_API_TOKEN"),
        ({"RESIMPLY_JWT_ALGORITHMS": "HS256,none"}, "RESIMPLY_JWT_ALGORITHMS"),
    ],
)
def test_bad_settings_say_what_to_change(env: dict[str, str], fragment: str) -> None:
    with pytest.raises(SettingsError, match=fragment):
        Settings.from_env(env)


def test_zero_means_off_where_it_is_allowed() -> None:
    settings = Settings.from_env(
        {
            "RESIMPLY_CACHE_TTL_S": "0",
            "RESIMPLY_MEDIA_THREADS": "0",
            "RESIMPLY_MAX_IMAGE_TOKENS": "0",
        }
    )
    assert (settings.cache_ttl_s, settings.media_threads, settings.max_image_tokens) == (0, 0, 0)
    with pytest.raises(SettingsError, match="0 or more"):
        Settings.from_env({"RESIMPLY_CACHE_TTL_S": "-1"})


def test_scale_settings_come_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "RESIMPLY_STREAM_SEND_TIMEOUT_S": "3",
            "RESIMPLY_WS_PING_INTERVAL_S": "7",
            "RESIMPLY_WORKER_JOB_GRACE_S": "5",
        }
    )
    assert (
        settings.stream_send_timeout_s,
        settings.ws_ping_interval_s,
        settings.worker_job_grace_s,
    ) == (3, 7, 5)


def test_lean_streams_are_on_unless_turned_off() -> None:
    assert Settings.from_env({}).lean_streams is True
    assert Settings.from_env({"RESIMPLY_LEAN_STREAMS": "0"}).lean_streams is False
    assert Settings.from_env({"RESIMPLY_LEAN_STREAMS": "1"}).lean_streams is True


def test_media_processes_come_from_the_environment() -> None:
    assert Settings.from_env({}).media_processes == 0  # one per CPU
    assert Settings.from_env({"RESIMPLY_MEDIA_PROCESSES": "3"}).media_processes == 3
    with pytest.raises(SettingsError, match="RESIMPLY_MEDIA_PROCESSES"):
        Settings.from_env({"RESIMPLY_MEDIA_PROCESSES": "two"})


def test_a_bad_price_table_says_what_to_change() -> None:
    with pytest.raises(SettingsError, match="RESIMPLY_PRICES"):
        Settings.from_env({"RESIMPLY_PRICES": "{not json"})
