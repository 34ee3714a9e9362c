"""What every request handler shares, built once in the app's lifespan."""

from __future__ import annotations

import dataclasses

from redis.asyncio import Redis

from ..auth import TokenVerifier
from ..events import StreamHub
from ..jobs import JobQueue
from ..keys import Keys
from ..providers.base import RecipeStore, Scraper
from ..settings import Settings
from ..tasks import TaskStore


@dataclasses.dataclass(kw_only=True)
class WebState:
    settings: Settings
    redis: Redis
    keys: Keys
    tasks: TaskStore
    jobs: JobQueue
    hub: StreamHub
    verifier: TokenVerifier
    scraper: Scraper  # consulted for "is this link supported?" only
    recipes: RecipeStore
    connections: int = 0  # open SSE and WebSocket streams in this process
    # The same, per user holding any (`web.streams.take_slot`).
    user_streams: dict[str, int] = dataclasses.field(default_factory=dict)
