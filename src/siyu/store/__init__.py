"""System of record: SQLAlchemy engine, models and Alembic migrations (SQLite or PostgreSQL)."""

from siyu.store.engine import Database, upgrade

__all__ = ["Database", "upgrade"]
