"""The pipeline: init → scrape → media → extract → store (ARCHITECTURE.md)."""

from .deps import PipelineDeps
from .run import run_task

__all__ = ["PipelineDeps", "run_task"]
