"""Journeys (SOP / 旅程): definitions, triggers, the durable per-contact engine, the outbox it
writes and the report. See docs/journeys.md."""
