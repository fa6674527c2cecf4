"""`siyu brand timezone [ZONE]`: show or set the brand's time zone (days, "today", analytics
periods and shown times are in it). SIYU_TIMEZONE, when set, wins over the stored zone."""

from __future__ import annotations

from typing import Annotated

import typer

from siyu.brand import ZoneError
from siyu.cli.common import JsonOpt, fail, open_client, out, print_json

brand_app = typer.Typer(help="Brand settings: time zone. 品牌设置：时区。", no_args_is_help=True)


@brand_app.command("timezone")
def timezone(
    zone: Annotated[
        str | None,
        typer.Argument(
            help="IANA name to store, e.g. Asia/Shanghai; omit to show. 要设置的时区（省略则显示）。"
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the brand's time zone and where it comes from, or store a new one. 显示或设置品牌时区。"""
    with open_client() as client:
        try:
            info = client.timezone() if zone is None else client.set_timezone(zone, actor="cli")
        except ZoneError as exc:
            raise fail(str(exc), 2) from exc
    if as_json:
        print_json(info)
        return
    out.print(f"{info['timezone']} ({info['source']})")
    if zone is not None and info["source"] == "environment":
        out.print(f"SIYU_TIMEZONE={info['pinned']} wins over the stored {info['stored']}.")
