"""Signing the audit log's checkpoints with Ed25519 (docs/audit.md, "Checkpoints").

A checkpoint note is text in the C2SP tlog-checkpoint shape, one item a line:

    rtcc-relay/audit                       origin (settings.AUDIT_LOG_ORIGIN)
    1234                                   tree size
    Sd5B...=                               root hash, base64
    2026-12-07T01:02:03.456789+00:00       when it was signed

and the signature is Ed25519 over exactly those bytes, so an auditor checks it with any Ed25519
library and the exported public key.
"""

from __future__ import annotations

import base64
import hashlib
import os
from datetime import datetime
from functools import cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def checkpoint_note(*, origin: str, tree_size: int, root_hash: str, signed_at: datetime) -> bytes:
    root = base64.b64encode(bytes.fromhex(root_hash)).decode()
    return f"{origin}\n{tree_size}\n{root}\n{signed_at.isoformat()}\n".encode()


def signing_key_new() -> str:
    """A fresh private key, base64 of its 32 raw bytes, as RTCC_AUDIT_SIGNING_KEY takes it."""
    raw = Ed25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return base64.b64encode(raw).decode()


def _configured_key() -> str:
    if settings.AUDIT_SIGNING_KEY:
        return str(settings.AUDIT_SIGNING_KEY)
    # The embedded default: a key of this machine's own, made once. O_EXCL: two processes starting
    # together end up with one key, not one each.
    path = settings.AUDIT_SIGNING_KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as out:
                out.write(signing_key_new())
    return path.read_text().strip()


@cache
def _private_key(configured: str) -> Ed25519PrivateKey:
    try:
        raw = base64.b64decode(configured, validate=True)
        return Ed25519PrivateKey.from_private_bytes(raw)
    except ValueError as exc:
        raise ImproperlyConfigured("RTCC_AUDIT_SIGNING_KEY must be base64 of a 32-byte Ed25519 key") from exc


def signing_key() -> Ed25519PrivateKey:
    return _private_key(_configured_key())


def public_key_b64() -> str:
    return base64.b64encode(signing_key().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def key_id(public_b64: str) -> str:
    """Names the key in each checkpoint: the first 16 hex digits of SHA-256 of the raw public key."""
    return hashlib.sha256(base64.b64decode(public_b64)).hexdigest()[:16]


def sign(note: bytes) -> str:
    return base64.b64encode(signing_key().sign(note)).decode()


def signature_valid(*, note: bytes, signature: str, public_b64: str) -> bool:
    try:
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_b64))
        public.verify(base64.b64decode(signature), note)
    except (InvalidSignature, ValueError):
        return False
    return True
