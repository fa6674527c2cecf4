"""Provider accounts (src/siyu/channels/providers.py): validation against each adapter's documented
fields, secrets encrypted at rest, the choice of provider for a message channel, the callback
token — and one journey end to end through the outbox dispatcher to the webhook emulator.

The required fields below are copied from the provider docs (docs/providers/*.md), not read from
the adapters' ``CONFIG_FIELDS`` / ``SECRET_FIELDS``, so a field that silently stops being checked
fails here."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from sqlalchemy import select, update
from tests.emulators.webhook import WebhookReceiver

from siyu.channels.providers import ProviderError, ProviderNotFound, ProviderService
from siyu.client import Siyu
from siyu.context import AppContext
from siyu.profiles.pii import Keyring
from siyu.store.models import ChannelProvider, OutboxMessage

#: A complete, valid account of every provider kind: (config, secrets).
VALID: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "wecom": ({"corp_id": "ww0123456789"}, {"corp_secret": "corp-secret-1"}),
    "aliyun_sms": ({"sign_name": "思域"}, {"access_key_id": "LTAI5t", "access_key_secret": "ali-secret-1"}),
    "tencent_sms": (
        {"sdk_app_id": "1400006666", "sign_name": "思域"},
        {"secret_id": "AKIDx", "secret_key": "tc-secret-1"},
    ),
    "smart_sms": (
        {
            "base_url": "http://127.0.0.1:9/maap",
            "chatbot_id": "sip:106500@botplatform.rcs.chinaunicom.cn",
            "app_id": "app-1",
        },
        {"app_key": "maap-secret-1"},
    ),
    "smtp": ({"host": "127.0.0.1", "from_address": "shop@example.com"}, {}),
    "webhook": ({"url": "http://127.0.0.1:9/hook"}, {"secret": "wh-secret-1"}),
}
#: What the docs call required: (kind, "config" | "secrets", field).
REQUIRED = [
    ("wecom", "config", "corp_id"),
    ("wecom", "secrets", "corp_secret"),
    ("aliyun_sms", "config", "sign_name"),
    ("aliyun_sms", "secrets", "access_key_id"),
    ("aliyun_sms", "secrets", "access_key_secret"),
    ("tencent_sms", "config", "sdk_app_id"),
    ("tencent_sms", "config", "sign_name"),
    ("tencent_sms", "secrets", "secret_id"),
    ("tencent_sms", "secrets", "secret_key"),
    ("smart_sms", "config", "base_url"),
    ("smart_sms", "config", "chatbot_id"),
    ("smart_sms", "config", "app_id"),
    ("smart_sms", "secrets", "app_key"),
    ("smtp", "config", "host"),
    ("smtp", "config", "from_address"),
    ("webhook", "config", "url"),
    ("webhook", "secrets", "secret"),
]


@pytest.fixture
def svc(ctx: AppContext) -> Any:
    with ctx.db.session() as s:
        yield ProviderService(s, ctx.keyring)


def add(svc: ProviderService, key: str, kind: str, default: bool = False, **config: Any) -> ChannelProvider:
    base_config, secrets = VALID[kind]
    return svc.create(key, kind, {**base_config, **config}, secrets, default)


# --- validation -----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", sorted(VALID))
def test_a_complete_account_of_each_kind_is_accepted_and_builds_its_adapter(svc, kind: str) -> None:
    row = add(svc, f"p-{kind.replace('_', '-')}", kind)
    adapter = svc.adapter(row)
    assert adapter.kind == kind
    assert svc.get(row.key).kind == kind


@pytest.mark.parametrize(("kind", "section", "field"), REQUIRED)
def test_a_missing_required_field_is_named(svc, kind: str, section: str, field: str) -> None:
    config, secrets = (dict(d) for d in VALID[kind])
    (config if section == "config" else secrets).pop(field)
    with pytest.raises(ProviderError, match=rf"^{section}\.{field}: required for {kind}"):
        svc.create("p", kind, config, secrets)
    (config if section == "config" else secrets)[field] = ""  # empty counts as missing too
    with pytest.raises(ProviderError, match=rf"^{section}\.{field}:"):
        svc.create("p", kind, config, secrets)
    assert svc.by_key("p") is None


@pytest.mark.parametrize("key", ["Bad Key", "UPPER", "", "a/b", "x" * 65])
def test_provider_key_must_be_a_slug(svc, key: str) -> None:
    with pytest.raises(ProviderError, match=r"^key: "):
        svc.create(key, "webhook", *VALID["webhook"])


def test_unknown_kind_lists_the_known_ones(svc) -> None:
    with pytest.raises(ProviderError, match=r"^kind: unknown provider kind 'fax'.*aliyun_sms") as exc:
        svc.create("p", "fax", {}, {})
    assert "webhook" in str(exc.value)


def test_unknown_config_field_is_rejected_and_a_secret_never_goes_into_config(svc) -> None:
    config, secrets = VALID["aliyun_sms"]
    with pytest.raises(ProviderError, match=r"^config\.colour: not a aliyun_sms setting"):
        svc.create("p", "aliyun_sms", {**config, "colour": "red"}, secrets)
    # a credential put in the (plain-text) config by mistake is refused, not stored in clear
    with pytest.raises(ProviderError, match=r"^config\.access_key_secret:"):
        svc.create("p", "aliyun_sms", {**config, "access_key_secret": "oops"}, secrets)
    # the settings every kind shares are accepted
    row = svc.create(
        "p", "aliyun_sms", {**config, "base_url": "http://127.0.0.1:9", "rate_per_s": 5}, secrets
    )
    assert row.rate_per_s == 5.0


def test_duplicate_key_is_refused(svc) -> None:
    add(svc, "p", "webhook")
    with pytest.raises(ProviderError, match="already exists"):
        add(svc, "p", "aliyun_sms")
    assert svc.get("p").kind == "webhook"


def test_smart_sms_accepts_the_documented_password_alias(svc) -> None:
    config, _ = VALID["smart_sms"]
    row = svc.create("maap", "smart_sms", config, {"password": "maap-secret-1"})
    assert svc.adapter(row).kind == "smart_sms"


# --- secrets --------------------------------------------------------------------------------------
def test_secrets_are_stored_encrypted_and_read_back(ctx: AppContext) -> None:
    secret = "ali-secret-VERY-distinctive-42"
    with ctx.db.session() as s:
        svc = ProviderService(s, ctx.keyring)
        svc.create(
            "ali",
            "aliyun_sms",
            VALID["aliyun_sms"][0],
            {"access_key_id": "LTAI", "access_key_secret": secret},
        )
    with ctx.db.session() as s:
        raw = s.scalar(select(ChannelProvider.secrets_enc).where(ChannelProvider.key == "ali"))
        assert raw is not None and len(raw) > len(secret)
        blob = bytes(raw)
        for form in (secret.encode(), secret.encode("utf-16-le"), base64.b64encode(secret.encode())):
            assert form not in blob
        svc = ProviderService(s, ctx.keyring)
        row = svc.get("ali")
        assert svc.secrets(row) == {"access_key_id": "LTAI", "access_key_secret": secret}
        described = svc.describe(row)
        assert described["secrets"] == ["access_key_id", "access_key_secret"]
        assert secret not in repr(described) and secret not in repr(svc.list())


def test_secrets_are_bound_to_their_provider(ctx: AppContext) -> None:
    """The ciphertext names its provider (associated data): copying one account's secrets onto
    another row does not decrypt, so rows cannot be swapped to borrow credentials."""
    with ctx.db.session() as s:
        svc = ProviderService(s, ctx.keyring)
        a = add(svc, "a", "webhook")
        b = svc.create("b", "webhook", VALID["webhook"][0], {"secret": "other"})
        s.flush()
        s.execute(update(ChannelProvider).where(ChannelProvider.id == b.id).values(secrets_enc=a.secrets_enc))
        s.expire_all()
        with pytest.raises(InvalidTag):
            svc.secrets(svc.get("b"))


def test_a_provider_without_secrets_stores_none(svc) -> None:
    row = add(svc, "mail", "smtp")
    assert row.secrets_enc is None
    assert svc.secrets(row) == {} and svc.describe(row)["secrets"] == []


# --- choosing a provider for a channel ----------------------------------------------------------------
def test_no_provider_for_a_channel_is_a_clear_error(svc) -> None:
    add(svc, "hook", "webhook")
    with pytest.raises(
        ProviderNotFound, match=r"no provider configured for sms \(kinds: aliyun_sms, tencent_sms\)"
    ):
        svc.for_channel("sms")
    with pytest.raises(ProviderError, match="unknown channel 'fax'"):
        svc.for_channel("fax")
    with pytest.raises(ProviderNotFound, match="no provider 'nope'"):
        svc.for_channel("webhook", "nope")


def test_the_named_provider_must_carry_the_channel(svc) -> None:
    add(svc, "hook", "webhook")
    with pytest.raises(ProviderError, match=r"provider 'hook' \(webhook\) cannot send sms"):
        svc.for_channel("sms", "hook")


def test_named_then_default_then_only_provider(svc) -> None:
    add(svc, "ali", "aliyun_sms")
    assert svc.for_channel("sms").key == "ali"  # the only one
    add(svc, "tc", "tencent_sms", default=True)
    add(svc, "ali2", "aliyun_sms")
    assert svc.for_channel("sms").key == "tc"  # the default beats the older one
    assert svc.for_channel("sms", "ali2").key == "ali2"  # a named one beats the default
    add(svc, "hook", "webhook")
    assert svc.for_channel("webhook").key == "hook"


def test_a_new_default_replaces_the_old_one_of_its_kind(svc) -> None:
    add(svc, "hook1", "webhook", default=True)
    add(svc, "hook2", "webhook", default=True)
    assert (svc.get("hook1").is_default, svc.get("hook2").is_default) == (False, True)
    assert svc.for_channel("webhook").key == "hook2"


def test_deleted_provider_is_gone(svc) -> None:
    add(svc, "hook", "webhook")
    svc.delete("hook")
    with pytest.raises(ProviderNotFound):
        svc.get("hook")
    with pytest.raises(ProviderNotFound):
        svc.delete("hook")


# --- callback token -------------------------------------------------------------------------------
def test_callback_token_is_stable_per_key_and_secret_derived(ctx: AppContext) -> None:
    with ctx.db.session() as s:
        one = ProviderService(s, ctx.keyring).callback_token("ali")
    with ctx.db.session() as s:
        svc = ProviderService(s, ctx.keyring)
        assert svc.callback_token("ali") == one  # the URL given to the provider keeps working
        assert svc.callback_token("ali2") != one
        other = ProviderService(s, Keyring([b"z" * 32])).callback_token("ali")
    assert other != one  # made with the installation's secret, not guessable from the key
    assert len(one) == 32 and int(one, 16) >= 0


# --- end to end: journey → outbox → dispatcher → webhook receiver -----------------------------------
def test_journey_webhook_step_is_delivered_once_signed_with_the_outbox_key(ctx: AppContext) -> None:
    secret = "e2e-signing-secret"
    client = Siyu(ctx)
    assert client.identify({"customer_no": "c1", "phone": "+8613900000001"}, {"name": "Li"}).rejected == []
    cid = client.contact("customer_no:c1")["id"]
    emu = WebhookReceiver(secret)
    with emu.running() as base_url:
        client.providers.add("crm", "webhook", {"url": f"{base_url}/hooks/crm"}, {"secret": secret})
        doc = {
            "key": "sync",
            "name": "CRM sync",
            "trigger": {"list": True},
            "steps": [{"id": "push", "webhook": {"event": "joined", "data": {"name": "{{ name }}"}}}],
        }
        client.journeys.create(doc)
        client.journeys.start("sync")
        assert client.journeys.enrol("sync", [cid])["enrolled"] == 1
        first = client.journeys.run_worker()
        assert (first.queued, first.sent, first.failed) == (1, 1, 0)
        second = client.journeys.run_worker(2)
        assert (second.queued, second.sent) == (0, 0)
    with ctx.db.session() as s:
        [row] = s.execute(select(OutboxMessage.key, OutboxMessage.status, OutboxMessage.contact_id)).all()
    assert (row.status, row.contact_id) == ("sent", cid)
    assert emu.rejected == [] and sum(emu.duplicates.values()) == 0
    assert dict(emu.deliveries) == {row.key: 1}
    assert len([r for r in emu.requests if r.method == "POST"]) == 1
    [request] = emu.requests
    assert request.path == "/hooks/crm" and request.headers["idempotency-key"] == row.key
    # the signature, checked here by hand as a receiver would
    signed = request.headers["x-siyu-timestamp"].encode() + b"." + request.body
    expected = "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    assert request.headers["x-siyu-signature"] == expected
    body = emu.bodies[row.key]
    assert (body["event"], body["data"], body["contact_id"]) == ("joined", {"name": "Li"}, cid)
