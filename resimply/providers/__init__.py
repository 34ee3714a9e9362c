"""Providers: each external service behind a small protocol, with a production
adapter and a local one that needs no account (ARCHITECTURE.md, "Providers")."""
