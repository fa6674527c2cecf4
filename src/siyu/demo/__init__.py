"""The deterministic demo brand."""
