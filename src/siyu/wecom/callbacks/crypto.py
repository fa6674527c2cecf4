"""WXBizMsgCrypt: WeCom's callback signature and encryption (企业微信 加解密方案).

* Signature: SHA-1 hex of the sorted, concatenated token, timestamp, nonce and ciphertext.
* Key: base64-decode(EncodingAESKey + "=") — 43 characters give 32 bytes; IV = key[:16].
* AES-256-CBC with PKCS#7 padding to a multiple of **32** bytes (not AES's 16: WeCom's own
  libraries pad to 32, and a 16-byte unpadder would refuse pad lengths 17–32).
* Plaintext: 16 random bytes + 4-byte big-endian length + message + receive id (the corp id
  for a self-built app), which must match ours.

Errors carry WeCom's reference-library codes (-40001 … -40007) so logs read like WeCom's own.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32
KEY_LENGTH = 43  # EncodingAESKey characters


class CallbackCryptoError(ValueError):
    """A callback that fails verification or decryption; ``code`` is WeCom's library code."""

    VALIDATE_SIGNATURE = -40001
    PARSE_XML = -40002
    COMPUTE_SIGNATURE = -40003
    ILLEGAL_AES_KEY = -40004
    VALIDATE_RECEIVE_ID = -40005
    ENCRYPT_AES = -40006
    DECRYPT_AES = -40007
    ILLEGAL_BUFFER = -40008

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{reason} ({code})")
        self.code = code
        self.reason = reason


_Err = CallbackCryptoError


def aes_key(encoding_aes_key: str) -> bytes:
    if not isinstance(encoding_aes_key, str) or len(encoding_aes_key) != KEY_LENGTH:
        raise CallbackCryptoError(
            CallbackCryptoError.ILLEGAL_AES_KEY, f"EncodingAESKey must be {KEY_LENGTH} characters"
        )
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except (binascii.Error, ValueError):
        raise CallbackCryptoError(
            CallbackCryptoError.ILLEGAL_AES_KEY, "EncodingAESKey is not base64 (A–Z, a–z, 0–9, +, /)"
        ) from None
    if len(key) != 32:
        raise _Err(_Err.ILLEGAL_AES_KEY, "EncodingAESKey does not give 32 bytes")
    return key


def signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypted])).encode()).hexdigest()


class WXBizMsgCrypt:
    """One corp app's callback crypto: ``token``, ``encoding_aes_key`` and the receive id."""

    def __init__(self, token: str, encoding_aes_key: str, receive_id: str) -> None:
        if not token:
            raise _Err(_Err.COMPUTE_SIGNATURE, "callback token is empty")
        self.token = token
        self.key = aes_key(encoding_aes_key)
        self.receive_id = receive_id

    def verify(self, msg_signature: str, timestamp: str, nonce: str, encrypted: str) -> None:
        expected = signature(self.token, timestamp, nonce, encrypted)
        # Constant time: an attacker must not learn the signature byte by byte from timings.
        if not hmac.compare_digest(expected.encode(), (msg_signature or "").lower().encode()):
            raise _Err(_Err.VALIDATE_SIGNATURE, "msg_signature does not match")

    def decrypt(self, encrypted: str) -> bytes:
        """The message (XML bytes) inside ``encrypted``, after checking padding and receive id."""
        try:
            data = base64.b64decode(encrypted, validate=True)
        except (binascii.Error, ValueError):
            raise _Err(_Err.DECRYPT_AES, "Encrypt is not base64") from None
        if not data or len(data) % 16:
            raise _Err(_Err.DECRYPT_AES, "ciphertext is not whole AES blocks")
        decryptor = Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16])).decryptor()
        plain = decryptor.update(data) + decryptor.finalize()
        pad = plain[-1]
        if not 1 <= pad <= BLOCK or plain[-pad:] != bytes([pad]) * pad:
            raise _Err(_Err.ILLEGAL_BUFFER, "bad PKCS#7 padding")
        plain = plain[:-pad]
        if len(plain) < 20:
            raise _Err(_Err.ILLEGAL_BUFFER, "plaintext too short")
        (length,) = struct.unpack(">I", plain[16:20])
        if 20 + length > len(plain):
            raise _Err(_Err.ILLEGAL_BUFFER, "message length exceeds the plaintext")
        message, receive_id = plain[20 : 20 + length], plain[20 + length :]
        if not hmac.compare_digest(receive_id, self.receive_id.encode()):
            raise _Err(_Err.VALIDATE_RECEIVE_ID, "receive id is not our corp id")
        return message

    def encrypt(self, message: bytes, random16: bytes | None = None) -> str:
        """Base64 ciphertext of ``message`` (for encrypted replies, the emulator and tests)."""
        random16 = os.urandom(16) if random16 is None else random16
        if len(random16) != 16:
            raise _Err(_Err.ENCRYPT_AES, "random prefix must be 16 bytes")
        plain = random16 + struct.pack(">I", len(message)) + message + self.receive_id.encode()
        pad = BLOCK - len(plain) % BLOCK
        plain += bytes([pad]) * pad
        encryptor = Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16])).encryptor()
        return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()

    def verify_url(self, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> bytes:
        """The URL check: verify, then the decrypted echostr to answer in plain text."""
        self.verify(msg_signature, timestamp, nonce, echostr)
        return self.decrypt(echostr)

    def decrypt_message(self, msg_signature: str, timestamp: str, nonce: str, encrypted: str) -> bytes:
        self.verify(msg_signature, timestamp, nonce, encrypted)
        return self.decrypt(encrypted)

    def sign(self, timestamp: str, nonce: str, encrypted: str) -> str:
        return signature(self.token, timestamp, nonce, encrypted)
