"""A WeChat Pay API v3 profit-sharing client (分账): ``POST /v3/profitsharing/orders``.

Fields implemented (merchant mode, not 服务商): header ``Wechatpay-Serial`` (the platform
public key ID or certificate serial); request ``appid``, ``transaction_id``,
``out_order_no``, ``receivers[]`` (``type`` ``PERSONAL_OPENID`` | ``MERCHANT_ID``, ``account``,
``amount`` in fen, ``description``, at most 80 characters) and ``unfreeze_unsplit``;
response ``transaction_id``, ``out_order_no``, ``order_id``, ``state`` and
``receivers[].result`` / ``fail_reason``. Not implemented: the encrypted receiver ``name``
(needs the platform key for RSA-OAEP; it is optional for openid receivers), ``sub_mchid``
(服务商 mode), and the query, return and unfreeze endpoints.

Requests are signed per the v3 spec: ``Authorization: WECHATPAY2-SHA256-RSA2048
mchid="…",nonce_str="…",signature="…",timestamp="…",serial_no="…"`` where the signature is
SHA256-with-RSA (PKCS#1 v1.5) over ``METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nBODY\\n``, base64.
When the platform public key is configured, answers are verified the same way over
``Wechatpay-Timestamp\\nWechatpay-Nonce\\nBODY\\n`` (header ``Wechatpay-Signature``).

WeChat Pay's rules checked before sending: at most 50 receivers per request, amounts positive
whole fen, and the sum at most the configured share of the transaction. ``out_order_no`` is
the idempotency key: a retry sends the same number and gets the same order back."""

from __future__ import annotations

import base64
import os
import secrets
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

PATH = "/v3/profitsharing/orders"
MAX_RECEIVERS = 50
DEFAULT_BASE_URL = "https://api.mch.weixin.qq.com"
SCHEME = "WECHATPAY2-SHA256-RSA2048"


class ProfitSharingError(RuntimeError):
    """A refused or failed request; ``code`` is WeChat Pay's (``PARAM_ERROR``, ``SIGN_ERROR``…)
    or ours (``too_many_receivers``, ``above_ratio``, ``bad_signature``, ``unreachable``);
    ``retryable`` says whether the same request may be sent again."""

    def __init__(self, code: str, message: str, retryable: bool = False) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retryable = retryable


@dataclass(frozen=True)
class ProfitSharingConfig:
    mchid: str
    appid: str
    serial_no: str
    private_key_pem: bytes
    base_url: str = DEFAULT_BASE_URL
    platform_public_key_pem: bytes | None = None
    # 微信支付公钥ID or the platform certificate's serial: the Wechatpay-Serial header,
    # required on this endpoint
    platform_serial: str = ""
    timeout_s: float = 10.0

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> ProfitSharingConfig | None:
        """From ``SIYU_WECHATPAY_MCHID``, ``_APPID``, ``_SERIAL_NO``, ``_KEY_FILE`` (the
        merchant's apiclient_key.pem), ``_PLATFORM_SERIAL``, optional ``_PLATFORM_KEY_FILE`` and
        ``_BASE_URL``; None
        when not configured (profit sharing is optional)."""
        env = dict(os.environ if env is None else env)
        names = ("MCHID", "APPID", "SERIAL_NO", "KEY_FILE")
        values = {n: env.get(f"SIYU_WECHATPAY_{n}", "").strip() for n in names}
        if not all(values.values()):
            return None
        platform = env.get("SIYU_WECHATPAY_PLATFORM_KEY_FILE", "").strip()
        return cls(
            mchid=values["MCHID"],
            appid=values["APPID"],
            serial_no=values["SERIAL_NO"],
            private_key_pem=Path(values["KEY_FILE"]).read_bytes(),
            base_url=env.get("SIYU_WECHATPAY_BASE_URL", "").strip() or DEFAULT_BASE_URL,
            platform_public_key_pem=Path(platform).read_bytes() if platform else None,
            platform_serial=env.get("SIYU_WECHATPAY_PLATFORM_SERIAL", "").strip(),
        )


def sign(private_key: rsa.RSAPrivateKey, message: bytes) -> str:
    return base64.b64encode(private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def authorization(
    config: ProfitSharingConfig, method: str, path: str, body: bytes, timestamp: int, nonce: str
) -> str:
    key = serialization.load_pem_private_key(config.private_key_pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    message = f"{method}\n{path}\n{timestamp}\n{nonce}\n".encode() + body + b"\n"
    return (
        f'{SCHEME} mchid="{config.mchid}",nonce_str="{nonce}",signature="{sign(key, message)}",'
        f'timestamp="{timestamp}",serial_no="{config.serial_no}"'
    )


def check_receivers(receivers: list[dict[str, Any]], transaction_fen: int, ratio: float | str) -> None:
    if not receivers:
        raise ProfitSharingError("no_receivers", "receivers: at least one is needed")
    if len(receivers) > MAX_RECEIVERS:
        raise ProfitSharingError(
            "too_many_receivers", f"receivers: at most {MAX_RECEIVERS} per request, got {len(receivers)}"
        )
    for i, r in enumerate(receivers):
        if not isinstance(r.get("amount"), int) or r["amount"] <= 0:
            raise ProfitSharingError("bad_amount", f"receivers[{i}].amount: a positive whole number of fen")
        if not r.get("account"):
            raise ProfitSharingError("no_account", f"receivers[{i}].account: missing")
    total = sum(r["amount"] for r in receivers)
    cap = int(Decimal(transaction_fen) * Decimal(str(ratio)))
    if total > cap:
        raise ProfitSharingError(
            "above_ratio", f"receivers: {total} fen is above {ratio} of {transaction_fen}"
        )


class ProfitSharingClient:
    def __init__(self, config: ProfitSharingConfig, transport: httpx.BaseTransport | None = None) -> None:
        self.config = config
        self._http = httpx.Client(base_url=config.base_url, timeout=config.timeout_s, transport=transport)

    def close(self) -> None:
        self._http.close()

    def create_order(
        self,
        transaction_id: str,
        out_order_no: str,
        receivers: list[dict[str, Any]],
        unfreeze_unsplit: bool = True,
    ) -> dict[str, Any]:
        """Ask WeChat Pay to split a paid transaction; returns its answer (``state``
        ``PROCESSING`` or ``FINISHED``). Raises ProfitSharingError (``retryable`` for network
        failures, 5xx and rate limits: send the same ``out_order_no`` again)."""
        if len(receivers) > MAX_RECEIVERS:
            raise ProfitSharingError(
                "too_many_receivers", f"receivers: at most {MAX_RECEIVERS} per request, got {len(receivers)}"
            )
        body = orjson.dumps(
            {
                "appid": self.config.appid,
                "transaction_id": transaction_id,
                "out_order_no": out_order_no,
                "receivers": [
                    {
                        "type": r.get("type", "PERSONAL_OPENID"),
                        "account": r["account"],
                        "amount": r["amount"],
                        "description": r.get("description", "分销佣金"),
                    }
                    for r in receivers
                ],
                "unfreeze_unsplit": unfreeze_unsplit,
            }
        )
        timestamp, nonce = int(time.time()), secrets.token_hex(16)
        headers = {
            "Authorization": authorization(self.config, "POST", PATH, body, timestamp, nonce),
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": "siyu-distribution",
            "Wechatpay-Serial": self.config.platform_serial,
        }
        try:
            resp = self._http.post(PATH, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise ProfitSharingError("unreachable", str(exc) or type(exc).__name__, retryable=True) from exc
        if resp.status_code >= 500 or resp.status_code == 429:
            raise ProfitSharingError("server_error", f"HTTP {resp.status_code}", retryable=True)
        try:
            data = resp.json()
        except ValueError:
            raise ProfitSharingError(
                "bad_answer", f"HTTP {resp.status_code}: not JSON", retryable=True
            ) from None
        if resp.status_code >= 400:
            raise ProfitSharingError(
                str(data.get("code") or resp.status_code), str(data.get("message") or "")
            )
        self._verify(resp)
        return dict(data)

    def _verify(self, resp: httpx.Response) -> None:
        if self.config.platform_public_key_pem is None:
            return
        key = serialization.load_pem_public_key(self.config.platform_public_key_pem)
        assert isinstance(key, rsa.RSAPublicKey)
        ts, nonce = resp.headers.get("Wechatpay-Timestamp", ""), resp.headers.get("Wechatpay-Nonce", "")
        signature = resp.headers.get("Wechatpay-Signature", "")
        message = f"{ts}\n{nonce}\n".encode() + resp.content + b"\n"
        try:
            key.verify(base64.b64decode(signature), message, padding.PKCS1v15(), hashes.SHA256())
        except Exception as exc:  # InvalidSignature or a malformed header
            raise ProfitSharingError(
                "bad_signature", "the answer's Wechatpay-Signature does not verify"
            ) from exc
