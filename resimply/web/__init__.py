"""The web tier: Starlette app, REST handlers, SSE / WebSocket streams, the page."""

from .app import create_app

__all__ = ["create_app"]
