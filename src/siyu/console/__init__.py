"""The web console: server-rendered pages (FastAPI + Jinja2, light JavaScript) over the same
capabilities the API and CLI call. Interface only: parse, authorise, call, render."""
