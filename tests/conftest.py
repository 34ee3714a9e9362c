from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from resimply.sample import SAMPLE_VIDEO
from tests.servers import GatedVideoServer, Service, redis_server


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url, decode_responses=False)
    yield client
    await client.aclose()


@pytest.fixture
def key_prefix() -> str:
    return f"test-{uuid.uuid4().hex[:8]}:"


@pytest.fixture
def gated_video() -> Iterator[GatedVideoServer]:
    """The sample served over HTTP, held mid-download until the test releases it."""
    server = GatedVideoServer(SAMPLE_VIDEO)
    yield server
    server.close()


@pytest.fixture(scope="session")
def service(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """One `resimply serve` and one `arq` worker shared by the end-to-end tests."""
    tmp: Path = tmp_path_factory.mktemp("service")
    # As deployed: on-screen text read (the shared e2e tests include a draft's).
    with Service(redis_url, tmp, RESIMPLY_OCR_BUDGET_S="30").running() as svc:
        yield svc
