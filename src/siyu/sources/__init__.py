"""Channels registry, entry codes / acquisition links, ingest sources (write keys), touches."""
