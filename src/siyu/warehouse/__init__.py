"""Analytics store (DuckDB by default), fed from the system of record and rebuildable from it."""
