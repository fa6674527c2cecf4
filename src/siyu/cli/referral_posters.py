"""``siyu referrals poster CAMPAIGN CODE --out FILE``: write a participant's poster (PNG) to a
file, e.g. to send it to the inviter by hand or check a template. Its own module, attached to the
``referrals`` group by ``register``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from siyu.cli.common import JsonOpt, fail, open_client, out, print_json


def poster(
    campaign: Annotated[str, typer.Argument(help="Campaign key. 活动标识。")],
    code: Annotated[str, typer.Argument(help="The participant's code. 邀请码。")],
    out_file: Annotated[
        Path,
        typer.Option("--out", dir_okay=False, writable=True, help="PNG file to write. 写入的 PNG 文件。"),
    ],
    as_json: JsonOpt = False,
) -> None:
    """Write the poster of the participant with CODE in CAMPAIGN to a PNG file. 生成邀请海报。"""
    from siyu.referrals.posters import PosterError

    with open_client() as client:
        try:
            made = client.referral_posters.poster(campaign, code)
        except PosterError as exc:
            raise fail(str(exc), 1) from None
    out_file.write_bytes(made.png)
    summary: dict[str, Any] = {"campaign": campaign, "code": code, "file": str(out_file), **made.summary()}
    if as_json:
        print_json(summary)
    else:
        cached = "cached" if made.cached else "drawn"
        out.print(f"{out_file}: {made.width}×{made.height} PNG, {len(made.png)} bytes ({cached})")


def register(group: typer.Typer) -> None:
    """Attach ``poster`` to the ``referrals`` group."""
    group.command("poster")(poster)
