"""The event catalogue: what event names and their properties read as for operators."""
