"""``siyu referrals poster CAMPAIGN CODE --out FILE``: write a participant's poster (PNG) to a
file, e.g. to send it to the inviter by hand or check a template. A plain click command with
``register(group)``: the ``referrals`` group attaches it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from siyu.cli.common import open_client, print_json


@click.command("poster")
@click.argument("campaign")
@click.argument("code")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="PNG file to write. 写入的 PNG 文件。",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON. 输出 JSON。")
def poster(campaign: str, code: str, out: Path, as_json: bool) -> None:
    """Write the poster of the participant with CODE in CAMPAIGN to a PNG file. 生成邀请海报。"""
    from siyu.referrals.posters import PosterError

    with open_client() as client:
        try:
            made = client.referral_posters.poster(campaign, code)
        except PosterError as exc:
            raise click.ClickException(str(exc)) from None
    out.write_bytes(made.png)
    summary: dict[str, Any] = {"campaign": campaign, "code": code, "file": str(out), **made.summary()}
    if as_json:
        print_json(summary)
    else:
        cached = "cached" if made.cached else "drawn"
        click.echo(f"{out}: {made.width}×{made.height} PNG, {len(made.png)} bytes ({cached})")


def register(group: Any) -> None:
    """Attach ``poster`` to the ``referrals`` click group."""
    group.add_command(poster)
