"""``siyu wecom …``: contact ways, their figures and the sync (``cli/wecom_ways.py``), with the
callback inbox and corp tags (``cli/wecom_inflow.py``) as its ``callbacks`` and ``corp-tags``
groups: one command group for one provider, whichever module holds the commands."""

from __future__ import annotations

from siyu.cli.wecom_inflow import callbacks_app, corp_tags_app
from siyu.cli.wecom_ways import wecom_app

wecom_app.add_typer(callbacks_app, name="callbacks")
wecom_app.add_typer(corp_tags_app, name="corp-tags")

__all__ = ["wecom_app"]
