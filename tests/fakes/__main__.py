"""Run the fake Apify, OpenAI and Supabase servers by hand:

    .venv/bin/python -m tests.fakes

It prints the environment that points the production providers at them and a
token for a demo user; then start `resimply serve` and `arq resimply.worker.WorkerSettings`
with that environment and submit the demo TikTok link.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid

from jose import jwt

from tests.fakes.stack import DEMO_URL, JWT_SECRET, FakeStack


def user_token(user_id: str, issuer: str, ttl_s: int = 24 * 3600) -> str:
    now = int(time.time())
    claims = {
        "sub": user_id,
        "aud": "authenticated",
        "role": "authenticated",
        "iss": issuer,
        "iat": now,
        "exp": now + ttl_s,
    }
    return str(jwt.encode(claims, JWT_SECRET, algorithm="HS256"))


async def main() -> None:
    stack = FakeStack.new()
    await stack.start()
    env = stack.env()
    token = user_token(str(uuid.uuid4()), f"{env['SUPABASE_URL']}/auth/v1")
    exports = "\n".join(f"export {k}={v}" for k, v in env.items())
    print(
        f"Fakes running. In another shell:\n\n{exports}\n"
        ".venv/bin/resimply serve & .venv/bin/arq resimply.worker.WorkerSettings &\n\n"
        f"curl -s -X POST localhost:8000/scrape/async -H 'Authorization: Bearer {token}' "
        f"-H 'Content-Type: application/json' -d '{{\"url\": \"{DEMO_URL}\"}}'\n",
        flush=True,
    )
    try:
        await asyncio.Event().wait()
    finally:
        await stack.stop()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
