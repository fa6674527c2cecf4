"""A WeChat Pay API v3 profit-sharing emulator (``POST /v3/profitsharing/orders``) that checks
what the real one checks:

* the ``Authorization`` header: scheme ``WECHATPAY2-SHA256-RSA2048``, the merchant id, a
  timestamp within 5 minutes, a nonce, the certificate serial the merchant registered, and the
  SHA256-with-RSA signature over ``METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nBODY\\n`` with the merchant's
  public key (401 ``SIGN_ERROR`` otherwise);
* the body: ``appid``, ``transaction_id`` of a known paid transaction, ``out_order_no``,
  1–50 ``receivers`` each with ``type``, ``account``, a positive whole ``amount`` (fen) and a
  ``description`` (400 ``PARAM_ERROR``); the sum at most the merchant's ratio of the
  transaction (400 ``INVALID_REQUEST``);
* the ``Wechatpay-Serial`` header naming the platform key (required on this endpoint);
* idempotency: "同一分账单号多次请求等同一次" — a repeat of an ``out_order_no`` answers the
  order already made, whatever it carries, and splits nothing again.

Answers are signed with the emulator's platform key (headers ``Wechatpay-Timestamp``,
``Wechatpay-Nonce``, ``Wechatpay-Signature``, ``Wechatpay-Serial``). The signature check is
written out here instead of calling the client's code, so a bug shared by both shows up."""

from __future__ import annotations

import base64
import re
import secrets
import time
from decimal import Decimal
from typing import Any

import orjson
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from tests.emulators.server import Emulator, Request, Response

PATH = "/v3/profitsharing/orders"
_AUTH = re.compile(r"^WECHATPAY2-SHA256-RSA2048 (.+)$")
_PAIR = re.compile(r'(\w+)="([^"]*)"')


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem_private(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def pem_public(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


class WeChatPayEmulator(Emulator):
    def __init__(
        self, mchid: str, serial_no: str, merchant_public_pem: bytes, ratio: str = "0.30", skew_s: float = 300
    ) -> None:
        super().__init__()
        self.mchid, self.serial_no, self.skew_s = mchid, serial_no, skew_s
        self.merchant_key = serialization.load_pem_public_key(merchant_public_pem)
        self.ratio = Decimal(ratio)
        self.platform_key = new_key()
        self.transactions: dict[str, int] = {}  # transaction_id → amount in fen
        self.orders: dict[str, dict[str, Any]] = {}  # out_order_no → answer
        self.bodies: dict[str, dict[str, Any]] = {}  # out_order_no → the request that made it
        self.splits: list[dict[str, Any]] = []  # one per order actually made (money moved)
        self.refused: list[str] = []
        self.repeats: list[str] = []  # out_order_no sent again (answered, not split again)
        self.platform_serial = "PUB_KEY_ID_0000000000000000000000000000"
        self.fail_next: list[int] = []  # statuses to answer the next requests with

    def platform_public_pem(self) -> bytes:
        return pem_public(self.platform_key)

    def _answer(self, data: dict[str, Any], status: int = 200) -> Response:
        body = orjson.dumps(data)
        ts, nonce = str(int(time.time())), secrets.token_hex(16)
        sig = self.platform_key.sign(
            f"{ts}\n{nonce}\n".encode() + body + b"\n", padding.PKCS1v15(), hashes.SHA256()
        )
        headers = {
            "Content-Type": "application/json",
            "Wechatpay-Timestamp": ts,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": base64.b64encode(sig).decode(),
            "Wechatpay-Serial": self.platform_serial,
        }
        return Response(status, body, headers)

    def _refuse(self, status: int, code: str, message: str) -> Response:
        with self.lock:
            self.refused.append(code)
        return self._answer({"code": code, "message": message}, status)

    def _check_auth(self, request: Request) -> str | None:
        m = _AUTH.match(request.headers.get("authorization", ""))
        if not m:
            return "missing or wrong Authorization scheme"
        fields = dict(_PAIR.findall(m.group(1)))
        for name in ("mchid", "nonce_str", "signature", "timestamp", "serial_no"):
            if not fields.get(name):
                return f"Authorization without {name}"
        if fields["mchid"] != self.mchid:
            return "mchid does not match"
        if fields["serial_no"] != self.serial_no:
            return "unknown certificate serial"
        if not fields["timestamp"].isdigit() or abs(time.time() - int(fields["timestamp"])) > self.skew_s:
            return "timestamp out of range"
        message = f"{request.method}\n{request.path}\n{fields['timestamp']}\n{fields['nonce_str']}\n".encode()
        try:
            self.merchant_key.verify(  # type: ignore[union-attr, call-arg]
                base64.b64decode(fields["signature"]),
                message + request.body + b"\n",
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except Exception:
            return "signature does not verify"
        return None

    def handle(self, request: Request) -> Response:
        if request.method != "POST" or request.path != PATH:
            return self._refuse(404, "RESOURCE_NOT_EXISTS", "no such endpoint")
        with self.lock:
            if self.fail_next:
                return Response(self.fail_next.pop(0), {"code": "SYSTEM_ERROR", "message": "injected"})
        problem = self._check_auth(request)
        if problem:
            return self._refuse(401, "SIGN_ERROR", problem)
        if request.headers.get("wechatpay-serial") != self.platform_serial:
            return self._refuse(400, "PARAM_ERROR", "Wechatpay-Serial missing or unknown")
        try:
            body = orjson.loads(request.body)
        except orjson.JSONDecodeError:
            return self._refuse(400, "PARAM_ERROR", "body is not JSON")
        for name in ("appid", "transaction_id", "out_order_no", "receivers", "unfreeze_unsplit"):
            if name not in body:
                return self._refuse(400, "PARAM_ERROR", f"{name} missing")
        receivers = body["receivers"]
        if not isinstance(receivers, list) or not 1 <= len(receivers) <= 50:
            return self._refuse(400, "PARAM_ERROR", "receivers: 1 to 50")
        for r in receivers:
            if r.get("type") not in ("MERCHANT_ID", "PERSONAL_OPENID") or not r.get("account"):
                return self._refuse(400, "PARAM_ERROR", "receiver type/account")
            description = r.get("description")
            if (
                not isinstance(r.get("amount"), int)
                or r["amount"] <= 0
                or not description
                or len(description) > 80
            ):
                return self._refuse(400, "PARAM_ERROR", "receiver amount/description")
        with self.lock:
            no = body["out_order_no"]
            if no in self.orders:
                self.repeats.append(no)
                return self._answer(self.orders[no])
            paid = self.transactions.get(body["transaction_id"])
            if paid is None:
                return self._refuse(400, "INVALID_REQUEST", "unknown transaction")
            if sum(r["amount"] for r in receivers) > int(Decimal(paid) * self.ratio):
                return self._refuse(400, "INVALID_REQUEST", "above the maximum split ratio")
            answer = {
                "transaction_id": body["transaction_id"],
                "out_order_no": no,
                "order_id": f"3008{len(self.orders) + 1:024d}",
                "state": "FINISHED",
                "receivers": [
                    {**r, "result": "SUCCESS", "detail_id": secrets.token_hex(8)} for r in receivers
                ],
            }
            self.orders[no], self.bodies[no] = answer, body
            self.splits.append(body)
            return self._answer(answer)
