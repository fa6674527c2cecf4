"""PII at rest: AES-GCM field encryption, blind indexes, key rotation, masking and key files."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import stat
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from siyu.profiles.pii import (
    KeyError_,
    Keyring,
    generate_key,
    load_keys,
    mask_email,
    mask_phone,
    mask_value,
)

OLD = bytes(range(32))
NEW = bytes(range(100, 132))
OTHER = b"\xaa" * 32


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


# --- encryption ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "plaintext", ["+8613800138000", "zhang@example.com", "", "张三 · 北京市朝阳区", "x" * 5000]
)
def test_round_trip(plaintext: str) -> None:
    ring = Keyring([OLD])
    blob = ring.encrypt(plaintext, b"phone")
    assert isinstance(blob, bytes)
    assert plaintext.encode() not in blob or plaintext == ""
    assert ring.decrypt(blob, b"phone") == plaintext
    # A fresh keyring built from the same key reads it too (no hidden per-instance state).
    assert Keyring([OLD]).decrypt(blob, b"phone") == plaintext


def test_equal_plaintexts_give_different_ciphertexts() -> None:
    ring = Keyring([OLD])
    blobs = {ring.encrypt("+8613800138000") for _ in range(20)}
    assert len(blobs) == 20
    assert all(ring.decrypt(b) == "+8613800138000" for b in blobs)


def test_ciphertext_is_standard_aes_gcm_in_the_documented_layout() -> None:
    """version 0x01 | 4-byte key fingerprint | 12-byte nonce | AES-GCM(ct+tag) — decrypted here
    with the cryptography primitive directly, so the format is readable without siyu."""
    plaintext = "+8613800138000"
    blob = Keyring([OLD]).encrypt(plaintext, b"phone")
    assert blob[:1] == b"\x01"
    assert blob[1:5] == hashlib.sha256(b"siyu-key-id" + OLD).digest()[:4]
    assert len(blob) == 1 + 4 + 12 + len(plaintext.encode()) + 16
    assert AESGCM(OLD).decrypt(blob[5:17], blob[17:], b"phone").decode() == plaintext


def test_associated_data_is_authenticated() -> None:
    ring = Keyring([OLD])
    blob = ring.encrypt("zhang@example.com", b"email")
    with pytest.raises(InvalidTag):
        ring.decrypt(blob, b"phone")


def test_tampered_ciphertext_fails() -> None:
    ring = Keyring([OLD])
    blob = bytearray(ring.encrypt("+8613800138000"))
    blob[-1] ^= 0x01
    with pytest.raises(InvalidTag):
        ring.decrypt(bytes(blob))


def test_wrong_key_fails() -> None:
    blob = Keyring([OLD]).encrypt("+8613800138000")
    with pytest.raises(KeyError_):
        Keyring([OTHER]).decrypt(blob)


def test_wrong_key_with_forged_fingerprint_still_fails() -> None:
    """Even if a blob claims the configured key's fingerprint, the GCM tag rejects it."""
    blob = Keyring([OTHER]).encrypt("+8613800138000")
    forged = blob[:1] + hashlib.sha256(b"siyu-key-id" + OLD).digest()[:4] + blob[5:]
    with pytest.raises(InvalidTag):
        Keyring([OLD]).decrypt(forged)


@pytest.mark.parametrize("blob", [b"", b"\x02" + b"\x00" * 40])
def test_unknown_ciphertext_version_fails(blob: bytes) -> None:
    with pytest.raises(KeyError_):
        Keyring([OLD]).decrypt(blob)


def test_keyring_needs_a_key() -> None:
    with pytest.raises(KeyError_):
        Keyring([])


# --- key rotation -------------------------------------------------------------------------------


def test_rotation_keyring_decrypts_old_and_new_ciphertexts() -> None:
    old_blob = Keyring([OLD]).encrypt("+8613800138000", b"phone")
    rotated = Keyring([NEW, OLD])
    assert rotated.decrypt(old_blob, b"phone") == "+8613800138000"

    new_blob = rotated.encrypt("+8613800138000", b"phone")
    # New writes use the first key only: the new key alone reads them, the old key cannot.
    assert Keyring([NEW]).decrypt(new_blob, b"phone") == "+8613800138000"
    with pytest.raises(KeyError_):
        Keyring([OLD]).decrypt(new_blob, b"phone")


def test_needs_rewrap_flags_only_ciphertexts_of_older_keys() -> None:
    old_blob = Keyring([OLD]).encrypt("a")
    rotated = Keyring([NEW, OLD])
    new_blob = rotated.encrypt("a")
    assert rotated.needs_rewrap(old_blob)
    assert not rotated.needs_rewrap(new_blob)
    assert not Keyring([OLD]).needs_rewrap(old_blob)
    # Rewrapping = decrypt with the ring, encrypt again: the result no longer needs it.
    rewrapped = rotated.encrypt(rotated.decrypt(old_blob))
    assert not rotated.needs_rewrap(rewrapped)
    assert Keyring([NEW]).decrypt(rewrapped) == "a"


def test_after_dropping_the_old_key_old_ciphertexts_are_unreadable() -> None:
    old_blob = Keyring([OLD]).encrypt("a")
    with pytest.raises(KeyError_):
        Keyring([NEW]).decrypt(old_blob)


# --- blind index --------------------------------------------------------------------------------


def test_blind_index_is_deterministic_and_keyed() -> None:
    a, b = Keyring([OLD]), Keyring([OLD])
    index = a.blind_index("phone", "+8613800138000")
    assert index == a.blind_index("phone", "+8613800138000") == b.blind_index("phone", "+8613800138000")
    assert index != a.blind_index("phone", "+8613800138001")
    assert index != a.blind_index("email", "+8613800138000")  # the type is part of the input
    assert index != Keyring([OTHER]).blind_index("phone", "+8613800138000")
    assert "13800138000" not in index
    assert len(index) == 64 and int(index, 16) >= 0  # hex SHA-256


def test_blind_index_is_hmac_sha256_with_a_hkdf_derived_key() -> None:
    """Pins the stored format: changing it silently would orphan every existing index."""
    index_key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"siyu-blind-index").derive(OLD)
    expected = hmac.new(index_key, b"phone\x00+8613800138000", hashlib.sha256).hexdigest()
    assert Keyring([OLD]).blind_index("phone", "+8613800138000") == expected
    # The derived key is not the encryption key itself.
    direct = hmac.new(OLD, b"phone\x00+8613800138000", hashlib.sha256).hexdigest()
    assert expected != direct


def test_type_and_value_boundary_cannot_be_shifted() -> None:
    ring = Keyring([OLD])
    assert ring.blind_index("ab", "c") != ring.blind_index("a", "bc")


def test_blind_index_follows_the_primary_key() -> None:
    """Rotation re-indexes: only the first key feeds the index."""
    assert Keyring([NEW, OLD]).blind_index("email", "a@b.co") == Keyring([NEW]).blind_index("email", "a@b.co")
    assert Keyring([NEW, OLD]).blind_index("email", "a@b.co") != Keyring([OLD]).blind_index("email", "a@b.co")


# --- masking ------------------------------------------------------------------------------------


def test_mask_china_mobile() -> None:
    assert mask_phone("+8613800135678") == "138****5678"
    assert mask_phone("+8613912341234") == "139****1234"


def test_mask_foreign_phone_keeps_prefix_and_hides_middle() -> None:
    masked = mask_phone("+14155552671")
    assert masked == "+141****2671"
    assert "5555" not in masked


def test_mask_short_number_hides_everything() -> None:
    assert mask_phone("+12345") == "*****"


def test_mask_email() -> None:
    assert mask_email("zhang@example.com") == "z***@example.com"
    assert mask_email("a@example.com") == "a***@example.com"
    assert "zhang" not in mask_email("zhang@example.com")
    assert mask_email("not-an-email") == "***"


def test_mask_value_dispatches_by_type() -> None:
    assert mask_value("phone", "+8613800135678") == mask_phone("+8613800135678")
    assert mask_value("email", "zhang@example.com") == mask_email("zhang@example.com")
    assert mask_value("customer_no", "C-0001") == "C-0001"


# --- key loading --------------------------------------------------------------------------------


def test_generate_key_is_32_random_bytes() -> None:
    keys = {generate_key() for _ in range(10)}
    assert len(keys) == 10
    assert all(len(base64.b64decode(k, validate=True)) == 32 for k in keys)


def test_load_keys_creates_a_private_key_file(tmp_path: Path) -> None:
    key_file = tmp_path / "nested" / "dir" / "secret.key"
    old_umask = os.umask(0)  # the mode must come from the file creation, not the umask
    try:
        keys = load_keys(None, key_file)
    finally:
        os.umask(old_umask)
    assert key_file.exists()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(keys) == 1 and len(keys[0]) == 32
    assert base64.b64decode(key_file.read_text().strip()) == keys[0]


def test_load_keys_reuses_the_existing_key_file(tmp_path: Path) -> None:
    key_file = tmp_path / "secret.key"
    first = load_keys(None, key_file)
    content = key_file.read_bytes()
    assert load_keys(None, key_file) == first
    assert key_file.read_bytes() == content
    # Data encrypted with the first load is readable after a "restart".
    blob = Keyring(first).encrypt("+8613800138000")
    assert Keyring(load_keys(None, key_file)).decrypt(blob) == "+8613800138000"


def test_key_file_with_several_keys_lists_them_in_order(tmp_path: Path) -> None:
    key_file = tmp_path / "secret.key"
    key_file.write_text(f"{b64(NEW)}\n{b64(OLD)}\n")
    assert load_keys(None, key_file) == [NEW, OLD]


def test_secret_takes_precedence_and_creates_no_file(tmp_path: Path) -> None:
    key_file = tmp_path / "secret.key"
    assert load_keys(f" {b64(NEW)} , {b64(OLD)} ,", key_file) == [NEW, OLD]
    assert not key_file.exists()


@pytest.mark.parametrize("secret", ["not base64!!", base64.b64encode(b"short").decode(), b64(b"x" * 33)])
def test_malformed_secret_is_rejected(tmp_path: Path, secret: str) -> None:
    with pytest.raises(KeyError_):
        load_keys(secret, tmp_path / "secret.key")


def test_empty_key_file_is_rejected(tmp_path: Path) -> None:
    key_file = tmp_path / "secret.key"
    key_file.write_text("\n")
    with pytest.raises(KeyError_):
        load_keys(None, key_file)
