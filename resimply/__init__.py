"""ResiMply: turn a cooking video into a structured recipe, live."""

__version__ = "0.1.0"
