"""Append-only audit log: merges, writes and PII reveals."""
