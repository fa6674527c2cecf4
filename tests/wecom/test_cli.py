"""`siyu wecom callbacks list|retry|setup` and `siyu wecom corp-tags sync|list`, against the
emulator (the receiver runs in-process, with processing held back to leave a failed event)."""

from __future__ import annotations

from sqlalchemy import update
from tests.cli.conftest import Cli, cli_env
from tests.emulators.wecom_inflow import WeComInflowEmulator
from tests.wecom.conftest import add_provider

from siyu.client import Siyu
from siyu.context import AppContext
from siyu.store.models import WeComCallback
from siyu.wecom.callbacks.receiver import CallbackReceiver


def test_wecom_cli(ctx: AppContext) -> None:
    emu = WeComInflowEmulator()
    with emu.running():
        client = Siyu(ctx)
        add_provider(client, emu)
        cli = Cli(cli_env(ctx.settings))
        receiver = CallbackReceiver(ctx)
        receiver.worker.enabled = False
        event = emu.customer_adds("zhangsan", "wmCLI", push=False, welcome=False)
        query, body = emu.envelope(event)
        receiver.receive_now("wecom", query["msg_signature"], query["timestamp"], query["nonce"], body)
        with ctx.db.session() as s:  # as if it had failed its attempts
            s.execute(update(WeComCallback).values(status="failed", attempts=5, last_error="boom"))

        listed = cli.json("wecom", "callbacks", "list", "--status", "failed")
        assert listed["counts"]["failed"] == 1
        (row,) = listed["callbacks"]
        assert row["change_type"] == "add_external_contact" and row["last_error"] == "boom"
        assert "boom" in cli("wecom", "callbacks", "list").stdout
        retried = cli.json("wecom", "callbacks", "retry", str(row["id"]))
        assert retried == {"queued": 1, "processed": {"done": 1}}
        assert "only failed" in cli.fails("wecom", "callbacks", "retry", str(row["id"]))
        assert "status" in cli.fails("wecom", "callbacks", "list", "--status", "weird", code=2)

        setup = cli.json("wecom", "callbacks", "setup", "wecom", "--public-url", "https://crm.example.cn")
        assert setup["url"] == "https://crm.example.cn/api/v1/providers/wecom/callbacks/events"
        assert setup["callback_token_set"] and setup["encoding_aes_key_set"]

        emu.add_corp_tag("客户等级", "VIP")
        assert cli.json("wecom", "corp-tags", "sync") == {"groups": 1, "tags": 1, "created": 1, "deleted": 0}
        assert cli.json("wecom", "corp-tags", "list")[0]["siyu_tag"] == "客户等级/VIP"
        receiver.close()
