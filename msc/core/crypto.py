"""Field encryption at rest for restricted data (notes, protection indicators, contact details).

AES-256-GCM (NIST SP 800-38D) with a random 96-bit nonce per value and the column name as
associated data, so a ciphertext copied into another column does not decrypt (OWASP ASVS 6.2).
Stored form: ``v1:<key id>:<base64url(nonce || ciphertext || tag)>``.

Keys come from MSC_DATA_KEYS: ``id:base64key[,id:base64key...]``, the first one encrypts, every
one listed decrypts (so a rotation is: put the new key first, run ``flask msc keys rotate``, then
drop the old key). Development and tests derive a key from the secret key; production refuses
to start without MSC_DATA_KEYS.

Phone numbers are searched through a blind index: an HMAC-SHA256 of the last eight digits under
a key derived from the current data key, so the database holds no readable number at all.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets

import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

PREFIX = "v1"
DERIVED_KEY_ID = "derived"


class DecryptionError(RuntimeError):
    """A stored value names a key that is not configured, or does not authenticate."""


def new_key_spec(key_id: str | None = None) -> str:
    """A fresh `id:base64key` entry for MSC_DATA_KEYS."""
    key_id = key_id or secrets.token_hex(4)
    return f"{key_id}:{base64.urlsafe_b64encode(AESGCM.generate_key(bit_length=256)).decode()}"


def parse_keys(spec: str) -> list[tuple[str, bytes]]:
    """`id:base64key,...` as [(id, key)], first one current; refuses malformed or short keys."""
    keys = []
    for entry in (part.strip() for part in spec.split(",")):
        if not entry:
            continue
        key_id, sep, encoded = entry.partition(":")
        if not sep or not key_id.isalnum():
            raise RuntimeError("MSC_DATA_KEYS entries must look like id:base64key")
        try:
            key = base64.urlsafe_b64decode(encoded)
        except ValueError:
            raise RuntimeError(f"MSC_DATA_KEYS key {key_id} is not base64") from None
        if len(key) != 32:
            raise RuntimeError(f"MSC_DATA_KEYS key {key_id} must be 32 bytes (AES-256)")
        keys.append((key_id, key))
    return keys


def derive_key(secret: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"msc field encryption"
    ).derive(secret.encode())


def configured_keys(config) -> list[tuple[str, bytes]]:
    keys = parse_keys(config.get("DATA_KEYS") or "")
    if keys:
        return keys
    if config.get("ENV_NAME") == "production":
        raise RuntimeError(
            "MSC_DATA_KEYS must be set in production (create one with: flask msc keys new)"
        )
    return [(DERIVED_KEY_ID, derive_key(config["SECRET_KEY"]))]


def _keys() -> list[tuple[str, bytes]]:
    app = current_app._get_current_object()
    keys = app.extensions.get("msc_data_keys")
    if keys is None:
        keys = app.extensions["msc_data_keys"] = configured_keys(app.config)
    return keys


def current_key_id() -> str:
    return _keys()[0][0]


def encrypt(plaintext: str, context: str) -> str:
    key_id, key = _keys()[0]
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, plaintext.encode("utf-8"), context.encode())
    return f"{PREFIX}:{key_id}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"


def decrypt(stored: str, context: str) -> str:
    prefix, key_id, body = stored.split(":", 2)
    if prefix != PREFIX:
        raise DecryptionError(f"unknown encryption format {prefix!r}")
    key = dict(_keys()).get(key_id)
    if key is None:
        raise DecryptionError(f"data key {key_id!r} is not configured (MSC_DATA_KEYS)")
    raw = base64.urlsafe_b64decode(body)
    return AESGCM(key).decrypt(raw[:12], raw[12:], context.encode()).decode("utf-8")


def blind_index(value: str | None) -> str | None:
    """HMAC of a normalised value under the current key: equality search without the value."""
    if not value:
        return None
    index_key = hashlib.sha256(b"msc blind index" + _keys()[0][1]).digest()
    return hmac.new(index_key, value.encode(), hashlib.sha256).hexdigest()[:40]


class EncryptedText(sa.types.TypeDecorator):
    """A text column stored encrypted; `context` (table.column) is bound into the tag."""

    impl = sa.Text
    cache_ok = True

    def __init__(self, context: str):
        super().__init__()
        self.context = context

    def process_bind_param(self, value, dialect):
        return None if value is None else encrypt(self.serialise(value), self.context)

    def process_result_value(self, value, dialect):
        return None if value is None else self.deserialise(decrypt(value, self.context))

    def serialise(self, value) -> str:
        return value

    def deserialise(self, text: str):
        return text


class EncryptedJSON(EncryptedText):
    """A JSON value (a list of codes) stored encrypted."""

    cache_ok = True

    def serialise(self, value) -> str:
        return json.dumps(value, sort_keys=True)

    def deserialise(self, text: str):
        return json.loads(text)


def encrypted_columns(metadata: sa.MetaData) -> list[sa.Column]:
    """Every encrypted column of the schema, for key rotation and the data inventory."""
    return [
        column
        for table in metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, EncryptedText)
    ]
