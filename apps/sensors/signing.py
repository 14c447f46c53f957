"""Webhook signatures: HMAC-SHA256 over the timestamp and the raw body, one secret per source.

Scheme (docs/sensors.md "Signing"): the sender puts the Unix time in
`X-RTCC-Timestamp` and `v1=<hex HMAC-SHA256(secret, "<timestamp>." + body)>` in
`X-RTCC-Signature`. The timestamp bounds a replay window; inside it, a signature
seen once is refused (the cache remembers it for the whole window), and outside
it the request is stale. The body is signed as received, before any parsing.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.cache import cache

SIGNATURE_VERSION = "v1"
_SEEN_PREFIX = "sensors.sig."


def secret_new() -> str:
    # 32 random bytes: as strong as the HMAC-SHA256 key can use.
    return secrets.token_urlsafe(32)


@functools.lru_cache(maxsize=8)
def _fernet(configured: tuple[str, ...], secret_key: str) -> MultiFernet:
    keys = list(configured)
    if not keys:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                       info=b"rtcc-relay sensor secrets").derive(secret_key.encode())
        keys = [base64.urlsafe_b64encode(derived).decode()]
    return MultiFernet([Fernet(key) for key in keys])


def secret_encrypt(secret: str) -> str:
    return _fernet(tuple(settings.SENSOR_SECRET_KEYS), settings.SECRET_KEY).encrypt(secret.encode()).decode()


# Per process, by ciphertext: a camera posting several reads a second would otherwise pay a key derivation
# and a decryption on each. A rotated secret is a new ciphertext (Fernet's IV is random), so the old secret
# is never served for it; its entry just ages out.
@functools.lru_cache(maxsize=4096)
def _decrypted(encrypted: str, configured: tuple[str, ...], secret_key: str) -> str:
    return _fernet(configured, secret_key).decrypt(encrypted.encode()).decode()


def secret_decrypt(encrypted: str) -> str:
    return _decrypted(encrypted, tuple(settings.SENSOR_SECRET_KEYS), settings.SECRET_KEY)


def signature_make(*, secret: str, timestamp: int | str, body: bytes) -> str:
    """The X-RTCC-Signature value for a body sent at `timestamp`: what a sensor (or a test) sends."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def signature_check(*, secret: str, timestamp: str, signature: str, body: bytes, now: float) -> str | None:
    """None when the request is authentic and fresh, else the reason: "signature_invalid" or "signature_stale"."""
    if not timestamp.isdigit() or len(timestamp) > 12:
        return "signature_invalid"
    expected = signature_make(secret=secret, timestamp=timestamp, body=body)
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        return "signature_invalid"
    if abs(now - int(timestamp)) > settings.SENSOR_SIGNATURE_TOLERANCE_SECONDS:
        return "signature_stale"
    return None


def signature_claim(*, source_id: int, signature: str) -> bool:
    """True the first time this source's signature is seen inside the window; False for a replay.

    cache.add is atomic on Redis (SET NX), so two racing copies of one request cannot both pass.
    """
    key = _SEEN_PREFIX + hashlib.sha256(f"{source_id}:{signature}".encode()).hexdigest()
    return bool(cache.add(key, 1, timeout=2 * settings.SENSOR_SIGNATURE_TOLERANCE_SECONDS + 1))
