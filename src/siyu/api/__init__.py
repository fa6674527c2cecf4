"""REST interface (FastAPI). Thin: parse, authorise, call a capability, render."""
