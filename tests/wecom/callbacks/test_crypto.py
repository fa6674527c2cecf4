"""WXBizMsgCrypt against an independent, plain transcription of WeCom's documented algorithm."""

from __future__ import annotations

import base64
import hashlib
import struct

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from siyu.wecom.callbacks.crypto import CallbackCryptoError, WXBizMsgCrypt

KEY43 = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"  # WeCom's sample EncodingAESKey
TOKEN = "QDG6eK"
CORP = "wx5823bf96d3bd56c7"


def reference_encrypt(xml: bytes, key43: str, receive_id: str, random16: bytes) -> str:
    """The documented steps, written out without the production code."""
    key = base64.b64decode(key43 + "=")
    body = random16 + len(xml).to_bytes(4, "big") + xml + receive_id.encode()
    n = 32 - (len(body) % 32)
    body = body + bytes([n] * n)
    enc = Cipher(algorithms.AES(key), modes.CBC(key[0:16])).encryptor()
    return base64.b64encode(enc.update(body) + enc.finalize()).decode()


def reference_signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    parts = [token, timestamp, nonce, encrypted]
    parts.sort()
    return hashlib.sha1("".join(parts).encode()).hexdigest()


XML = (
    "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><Event>change_external_contact</Event></xml>"
)


def test_matches_the_reference_both_ways() -> None:
    crypt = WXBizMsgCrypt(TOKEN, KEY43, CORP)
    rnd = b"0123456789abcdef"
    ours = crypt.encrypt(XML.encode(), rnd)
    theirs = reference_encrypt(XML.encode(), KEY43, CORP, rnd)
    assert ours == theirs
    sig = reference_signature(TOKEN, "1409659813", "263014780", theirs)
    assert crypt.sign("1409659813", "263014780", theirs) == sig
    assert crypt.decrypt_message(sig, "1409659813", "263014780", theirs) == XML.encode()


@pytest.mark.parametrize("size", [0, 1, 11, 12, 13, 43, 44, 45, 1000])
def test_padding_to_32_round_trips(size: int) -> None:
    crypt = WXBizMsgCrypt(TOKEN, KEY43, CORP)
    msg = b"x" * size
    enc = crypt.encrypt(msg)
    assert len(base64.b64decode(enc)) % 32 == 0
    assert crypt.decrypt(enc) == msg


def test_url_check_round_trips() -> None:
    crypt = WXBizMsgCrypt(TOKEN, KEY43, CORP)
    echo = reference_encrypt(b"1616140317555161061", KEY43, CORP, b"r" * 16)
    sig = reference_signature(TOKEN, "1", "n", echo)
    assert crypt.verify_url(sig, "1", "n", echo) == b"1616140317555161061"


def test_refusals() -> None:
    crypt = WXBizMsgCrypt(TOKEN, KEY43, CORP)
    enc = reference_encrypt(b"<xml/>", KEY43, CORP, b"r" * 16)
    sig = reference_signature(TOKEN, "1", "n", enc)
    with pytest.raises(CallbackCryptoError) as bad_sig:
        crypt.decrypt_message(sig[:-1] + ("0" if sig[-1] != "0" else "1"), "1", "n", enc)
    assert bad_sig.value.code == -40001
    with pytest.raises(CallbackCryptoError) as other_ts:
        crypt.decrypt_message(sig, "2", "n", enc)
    assert other_ts.value.code == -40001
    wrong_corp = reference_encrypt(b"<xml/>", KEY43, "ww-other-corp", b"r" * 16)
    with pytest.raises(CallbackCryptoError) as bad_id:
        crypt.decrypt(wrong_corp)
    assert bad_id.value.code == -40005
    with pytest.raises(CallbackCryptoError) as not_b64:
        crypt.decrypt("not base64!")
    assert not_b64.value.code == -40007
    with pytest.raises(CallbackCryptoError) as partial:
        crypt.decrypt(base64.b64encode(b"x" * 20).decode())
    assert partial.value.code == -40007
    other_key = "a" * 43
    with pytest.raises(CallbackCryptoError) as bad_pad:
        # decrypted under another key, the padding (or the length) is garbage
        WXBizMsgCrypt(TOKEN, other_key, CORP).decrypt(enc)
    assert bad_pad.value.code in (-40005, -40008)
    # A length field pointing past the end is refused, not sliced.
    key = base64.b64decode(KEY43 + "=")
    body = b"r" * 16 + struct.pack(">I", 999) + b"<xml/>" + CORP.encode()
    body += bytes([32 - len(body) % 32]) * (32 - len(body) % 32)
    raw = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor().update(body)
    with pytest.raises(CallbackCryptoError) as too_long:
        crypt.decrypt(base64.b64encode(raw).decode())
    assert too_long.value.code == -40008


@pytest.mark.parametrize("key", ["short", "a" * 44, "!" * 43])
def test_bad_keys_are_refused(key: str) -> None:
    with pytest.raises(CallbackCryptoError) as err:
        WXBizMsgCrypt(TOKEN, key, CORP)
    assert err.value.code == -40004
