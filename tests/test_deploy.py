"""Deployment files: compose.yaml (validated by Debian's docker-compose and read
for its isolation rules), .env.example, the Dockerfile's key properties (no
hadolint in Debian), the deploy scripts (bash -n, shellcheck), and a Redis
backup → restore round trip on a real redis-server with AOF on."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.servers import RedisServer

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = [ROOT / "deploy" / n for n in ("deploy.sh", "backup.sh", "restore.sh", "lib.sh")]
SCRIPTS.append(ROOT / "scripts" / "install.sh")
REQUIRED = {"MAIN_DOMAIN": "resimply.example", "CADDY_TLS": "internal", "REDIS_PASSWORD": "pw"}


def need(binary: str, package: str) -> str:
    path = shutil.which(binary)
    if path is None:
        message = f"{binary} is not installed (apt-get install {package})"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return data


def env_file(tmp: Path, **values: str) -> Path:
    """.env.example with the required values filled in."""
    lines = []
    for line in (ROOT / ".env.example").read_text().splitlines():
        name = line.partition("=")[0]
        lines.append(f"{name}={values[name]}" if name in values else line)
    (tmp / ".env").write_text("\n".join(lines) + "\n")
    shutil.copy(ROOT / "compose.yaml", tmp / "compose.yaml")
    return tmp


def test_docker_compose_config_validates(tmp_path: Path) -> None:
    binary = need("docker-compose", "docker-compose")
    env = {k: v for k, v in os.environ.items() if k not in REQUIRED}
    ok = subprocess.run(
        [binary, "-f", "compose.yaml", "config"],
        cwd=env_file(tmp_path, **REQUIRED),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    resolved = yaml.safe_load(ok.stdout)
    assert resolved["services"]["web"]["environment"]["REDIS_URL"] == "redis://:pw@redis:6379/0"
    # Without a secret, compose refuses to start: no secret has a default.
    for name in REQUIRED:
        missing = subprocess.run(
            [binary, "-f", "compose.yaml", "config"],
            cwd=env_file(tmp_path, **{**REQUIRED, name: ""}),
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert missing.returncode != 0 and name in missing.stderr, name


def test_compose_isolates_redis_and_limits_everything() -> None:
    spec = compose()
    services = spec["services"]
    assert set(services) == {"caddy", "web", "worker", "redis"}
    assert spec["networks"]["private"]["internal"] is True
    assert services["redis"]["networks"] == ["private"]
    assert "ports" not in services["redis"] and "expose" not in services["redis"]
    assert services["caddy"]["networks"] == ["public"]
    for name in ("web", "worker"):
        assert set(services[name]["networks"]) == {"public", "private"}
    for name, service in services.items():
        if name != "caddy":
            assert "ports" not in service, name
        assert service["restart"] == "unless-stopped", name
        assert service["logging"]["options"]["max-size"], name
        assert service["deploy"]["resources"]["limits"]["memory"], name
        assert "stop_grace_period" in service, name
    assert services["caddy"]["ports"] == ["80:80", "443:443", "443:443/udp"]
    # One image, two commands; workers get time to hand jobs back.
    assert services["web"]["image"] == services["worker"]["image"]
    assert services["worker"]["command"] == ["arq", "resimply.worker.WorkerSettings"]
    assert services["worker"]["stop_grace_period"] == "30s"
    assert "arq" in services["worker"]["healthcheck"]["test"]
    assert "/health" in " ".join(services["web"]["healthcheck"]["test"])
    redis = " ".join(services["redis"]["command"])
    for option in (
        "--appendonly yes",
        "--appendfsync everysec",
        "--maxmemory-policy noeviction",
        "--requirepass ${REDIS_PASSWORD:?",
    ):
        assert option in redis, option
    assert services["redis"]["healthcheck"]
    assert "redis_data:/data" in services["redis"]["volumes"]


def test_no_secret_has_a_default() -> None:
    text = (ROOT / "compose.yaml").read_text()
    for secret in ("REDIS_PASSWORD", "MAIN_DOMAIN", "CADDY_TLS"):
        uses = re.findall(r"\$\{" + secret + r"([^}]*)\}", text)
        assert uses and all(u.startswith(":?") for u in uses), (secret, uses)
    # Provider secrets come from .env only, never from compose.yaml.
    for secret in ("SUPABASE_KEY", "SUPABASE_JWT_SECRET", "OPENAI_API_KEY", "APIFY_API_TOKEN"):
        assert secret not in text
    example = (ROOT / ".env.example").read_text()
    for secret in (*REQUIRED, "SUPABASE_KEY", "SUPABASE_JWT_SECRET", "OPENAI_API_KEY"):
        assert re.search(rf"^{secret}=$", example, re.M), f"{secret} must be empty in .env.example"


def test_env_example_documents_every_variable() -> None:
    read = set(
        re.findall(
            r'"((?:RESIMPLY|SUPABASE|OPENAI|APIFY|LOG|REDIS)_[A-Z0-9_]+)"',
            (ROOT / "resimply" / "settings.py").read_text(),
        )
    )
    read |= set(re.findall(r"\$\{([A-Z_]+)", (ROOT / "compose.yaml").read_text()))
    read |= set(re.findall(r"\{\$([A-Z_]+)", (ROOT / "Caddyfile").read_text()))
    read -= {"HTTP_PORT", "HTTPS_PORT", "CADDY_ADMIN"}  # for tests and laptops
    documented = set(
        re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M)
    )
    assert read - documented == set()


def test_dockerfile_key_properties() -> None:
    text = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)(?: AS (\w+))?", text, re.M)
    assert len(stages) >= 2, "multi-stage"
    assert all("slim" in image or image.startswith("${") for image, _ in stages)
    assert "python:3.11-slim" in text and ":latest" not in text
    final = text.split("\nFROM ")[-1]
    assert "COPY --from=build /opt/venv /opt/venv" in final
    assert "pip" not in final and "apt-get" not in final, "only runtime pieces in the final stage"
    user = re.findall(r"^USER (\S+)", final, re.M)
    assert user and user[-1].split(":")[0] not in ("root", "0")
    assert re.search(r"^HEALTHCHECK .*\n?.*/health", final, re.M)
    for label in ("title", "version", "revision", "source", "licenses"):
        assert f"org.opencontainers.image.{label}=" in final, label
    assert 'CMD ["resimply", "serve"' in final
    assert "ADD " not in text
    # The install step is CI's: the same script `make install` runs.
    assert "RUN bash scripts/install.sh /opt/venv" in text
    assert "scripts/install.sh" in (ROOT / "Makefile").read_text()
    ignored = (ROOT / ".dockerignore").read_text().split()
    for path in (".git", ".venv", ".env", "tests", "backups"):
        assert path in ignored, path


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_shell_scripts_parse_and_pass_shellcheck(script: Path) -> None:
    subprocess.run(["bash", "-n", str(script)], check=True)
    if script.name != "lib.sh":
        assert os.access(script, os.X_OK), f"chmod +x {script}"
    shellcheck = need("shellcheck", "shellcheck")
    result = subprocess.run(
        [shellcheck, "-x", "-P", "SCRIPTDIR", str(script)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout


def test_redis_backup_then_restore_on_a_real_redis(tmp_path: Path) -> None:
    redis = RedisServer(tmp_path / "data", aof=True, password="s3cret")
    redis.dir.mkdir()
    redis.start()
    env = {
        **os.environ,
        "REDIS_DATA_DIR": str(redis.dir),
        "REDIS_CLI": f"redis-cli -p {redis.port}",
        "REDISCLI_AUTH": "s3cret",
        "BACKUP_KEEP": "2",
    }

    def cli(*args: str) -> str:
        out = subprocess.run(
            ["redis-cli", "-p", str(redis.port), *args], env=env, capture_output=True, text=True
        )
        return out.stdout.strip()

    def script(name: str, *args: str) -> str:
        done = subprocess.run(
            ["bash", str(ROOT / "deploy" / name), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    try:
        cli("SET", "resimply:task:{1}", "queued")
        cli("XADD", "resimply:events:{1}", "*", "t", "progress", "d", "{}")
        cli("ZADD", "arq:queue", "1", "job-1")
        backups = tmp_path / "backups"
        first = script("backup.sh", str(backups))
        cli("SET", "after-first-backup", "1")  # in the AOF tail of the next backups
        for _ in range(2):
            script("backup.sh", str(backups))
        kept = sorted(p.name for p in backups.glob("redis-*.tar.gz"))
        assert len(kept) <= 2  # retention (same-second names may coincide)
        newest = backups / kept[-1]

        # The bad day: everything is gone.
        cli("FLUSHALL")
        assert cli("DBSIZE") == "0"
        with pytest.raises(AssertionError, match="stop it first"):
            script("restore.sh", str(newest))
        redis.stop()
        script("restore.sh", str(newest))
        redis.start()
        assert cli("GET", "resimply:task:{1}") == "queued"
        assert cli("GET", "after-first-backup") == "1"
        assert cli("XLEN", "resimply:events:{1}") == "1"
        assert cli("ZSCORE", "arq:queue", "job-1") == "1"
        assert cli("CONFIG", "GET", "appendonly").split() == ["appendonly", "yes"]
        assert any(p.name.startswith("appendonlydir.before-restore-") for p in redis.dir.iterdir())
        assert Path(first).name.startswith("redis-")
    finally:
        redis.stop()
