"""Package signatures: Ed25519 over datapackage.json, whose resource hashes cover every file.

The instance key comes from MSC_RESEARCH_SIGNING_KEY (a base64 raw 32-byte private key); in
development a key is generated once and kept in the instance folder. A key is named by its id:
the first 16 hex digits of the SHA-256 of its public key.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from flask import current_app


def _raw_public(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(public: Ed25519PublicKey) -> str:
    return hashlib.sha256(_raw_public(public)).hexdigest()[:16]


def instance_key() -> Ed25519PrivateKey:
    configured = current_app.config.get("RESEARCH_SIGNING_KEY")
    if configured:
        return Ed25519PrivateKey.from_private_bytes(base64.b64decode(configured))
    if current_app.config["ENV_NAME"] == "production":
        raise RuntimeError("MSC_RESEARCH_SIGNING_KEY is required to release research packages")
    path = Path(current_app.instance_path) / "research_signing_key"
    if not path.exists():
        from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

        raw = Ed25519PrivateKey.generate().private_bytes(
            Encoding.Raw, PrivateFormat.Raw, NoEncryption()
        )
        path.write_text(base64.b64encode(raw).decode())
        path.chmod(0o600)
    return Ed25519PrivateKey.from_private_bytes(base64.b64decode(path.read_text()))


def signature_document(descriptor_bytes: bytes, key: Ed25519PrivateKey) -> bytes:
    public = key.public_key()
    document = {
        "algorithm": "Ed25519",
        "signed_file": "datapackage.json",
        "key_id": key_id(public),
        "public_key": base64.b64encode(_raw_public(public)).decode(),
        "signature": base64.b64encode(key.sign(descriptor_bytes)).decode(),
    }
    return json.dumps(document, indent=2, sort_keys=True).encode()


def verify(descriptor_bytes: bytes, signature_bytes: bytes, trusted: dict[str, str]) -> str | None:
    """The signer's key id when the signature is valid and by a trusted key; otherwise None
    (also when the signature file is not the document `signature_document` writes)."""
    try:
        document = json.loads(signature_bytes)
    except ValueError:
        return None
    if not isinstance(document, dict) or not all(
        isinstance(document.get(field), str) for field in ("key_id", "public_key", "signature")
    ):
        return None
    trusted_key = trusted.get(document["key_id"])
    if trusted_key is None or trusted_key != document["public_key"]:
        return None
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(trusted_key))
    try:
        public.verify(base64.b64decode(document["signature"]), descriptor_bytes)
    except (InvalidSignature, ValueError):
        return None
    return document["key_id"]


def public_key_entry(key: Ed25519PrivateKey) -> tuple[str, str]:
    public = key.public_key()
    return key_id(public), base64.b64encode(_raw_public(public)).decode()
