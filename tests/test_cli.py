"""The operators' commands: `resimply token`, `resimply serve` refusals, `arq --check`."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from jose import jwt

from tests.servers import BIN, Service


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RESIMPLY_", "SUPABASE_"))}
    return {**env, "RESIMPLY_DATA_DIR": str(tmp_path), **extra}


def test_token_mints_a_dev_token_for_the_given_user(tmp_path: Path) -> None:
    result = run(
        [str(BIN / "resimply"), "token", "--user", "user-42"], clean_env(tmp_path, RESIMPLY_DEV="1")
    )
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    secret = (tmp_path / "dev-jwt-secret").read_text().strip()
    claims = jwt.decode(token, secret, algorithms=["HS256"], audience="authenticated")
    assert claims["sub"] == "user-42" and claims["exp"] > claims["iat"]


def test_token_is_refused_outside_development_mode(tmp_path: Path) -> None:
    result = run([str(BIN / "resimply"), "token", "--user", "u"], clean_env(tmp_path))
    assert result.returncode == 2 and "RESIMPLY_DEV" in result.stderr
    assert result.stdout == ""


def test_development_auth_is_refused_with_a_real_jwt_secret(tmp_path: Path) -> None:
    env = clean_env(tmp_path, RESIMPLY_DEV="1", SUPABASE_JWT_SECRET="a-real-project-secret")
    for args in (["token"], ["serve", "--port", "1"]):
        result = run([str(BIN / "resimply"), *args], env)
        assert result.returncode == 2, args
        assert (
            "SUPABASE_JWT_SECRET" in result.stderr and "a-real-project-secret" not in result.stderr
        )


def test_arq_check_reports_a_live_worker(service: Service) -> None:
    ok = run([str(BIN / "arq"), "--check", "resimply.worker.WorkerSettings"], service.env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    nobody = run(
        [str(BIN / "arq"), "--check", "resimply.worker.WorkerSettings"],
        {**service.env, "RESIMPLY_KEY_PREFIX": "no-workers-here:"},
    )
    assert nobody.returncode == 1


def test_the_web_process_keeps_full_collections_rare() -> None:
    import gc

    from resimply.cli import (
        GC_OLD_THRESHOLD,
        GC_YOUNG_THRESHOLD,
        tune_gc_for_long_lived_connections,
    )

    before = gc.get_threshold()
    try:
        tune_gc_for_long_lived_connections()
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, before[1], GC_OLD_THRESHOLD)
        assert gc.get_freeze_count() > 0  # start-up objects are out of collection
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
