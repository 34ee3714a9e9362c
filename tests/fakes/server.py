"""Serve a fake's aiohttp application on a free loopback port."""

from __future__ import annotations

from aiohttp import web


async def start_fake(app: web.Application) -> tuple[web.AppRunner, str]:
    """Start `app` on 127.0.0.1 (a free port); return the runner and `http://127.0.0.1:<port>`.

    Stop it with `await runner.cleanup()`.
    """
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}"
