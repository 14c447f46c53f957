"""Operators export checkpoints for auditors to keep elsewhere; each line verifies on its own."""

from __future__ import annotations

import base64
import json
from io import StringIO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.core.management import call_command

from apps.audit.services import audit_log_sequence, audit_record
from tests.base import World


def test_exported_checkpoints_carry_what_checks_their_signature(world: World) -> None:
    audit_record(actor=world.omar, action="read", obj=world.case)
    audit_log_sequence(checkpoint=True)
    audit_record(actor=world.ava, action="read", obj=world.case)
    audit_log_sequence(checkpoint=True)
    out = StringIO()

    call_command("audit_checkpoints", stdout=out)

    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    first, second = (c["tree_size"] for c in lines[-2:])
    assert second == first + 1
    for checkpoint in lines:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(checkpoint["public_key"]))
        key.verify(base64.b64decode(checkpoint["signature"]), checkpoint["note"].encode())


def test_audit_keygen_prints_a_usable_key(db: None) -> None:
    out = StringIO()
    call_command("audit_keygen", stdout=out)

    key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(out.getvalue().strip()))
    assert key.public_key()
