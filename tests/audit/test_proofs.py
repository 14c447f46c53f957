"""An auditor proves, with nothing of ours but the public key, that an event is in the signed log
and that a later checkpoint extends an earlier one. The checks below are the few lines of RFC 9162
an auditor would write; they share no code with apps/audit."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from apps.audit.models import AuditEvent
from apps.audit.services import audit_log_sequence, audit_record
from tests.accounts.signin import client_for, sign_in
from tests.base import World, signed_in_client


def _h(*parts: bytes) -> bytes:
    return hashlib.sha256(b"".join(parts)).digest()


def _signed(checkpoint: dict[str, Any]) -> bool:
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(checkpoint["public_key"]))
    key.verify(base64.b64decode(checkpoint["signature"]), checkpoint["note"].encode())  # raises if forged
    origin, size, root, _signed_at = checkpoint["note"].splitlines()
    assert origin == checkpoint["origin"]
    return int(size) == checkpoint["tree_size"] and base64.b64decode(root).hex() == checkpoint["root_hash"]


def _included(leaf: bytes, index: int, size: int, path: list[bytes], root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2."""
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = _h(b"\x01", p, r)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = _h(b"\x01", r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def _log_with_checkpoints(world: World) -> None:
    for user in (world.omar, world.ava, world.sam):
        client_for(sign_in(user)).get(f"/api/v1/cases/{world.case.pk}")
        audit_log_sequence(checkpoint=True)


def test_an_auditor_proves_an_event_is_in_the_signed_log(world: World) -> None:
    _log_with_checkpoints(world)
    event = AuditEvent.objects.filter(actor=world.ava, action="read").get()
    aud = signed_in_client(world.aud)

    proof = aud.get(f"/api/v1/audit/{event.pk}/proof").json()

    checkpoint = proof["checkpoint"]
    assert _signed(checkpoint)
    leaf = _h(b"\x00", event.pk.to_bytes(8, "big"), bytes.fromhex(proof["event"]["hash"]))
    path = [bytes.fromhex(p) for p in proof["audit_path"]]
    root = bytes.fromhex(checkpoint["root_hash"])
    assert _included(leaf, proof["leaf_index"], checkpoint["tree_size"], path, root)
    # The same path does not place another event there.
    other = _h(b"\x00", event.pk.to_bytes(8, "big"), bytes(32))
    assert not _included(other, proof["leaf_index"], checkpoint["tree_size"], path, root)


def test_the_event_in_the_proof_hashes_to_its_leaf(world: World) -> None:
    """The auditor recomputes the event's hash from the fields the API shows, as docs/audit.md says."""
    _log_with_checkpoints(world)
    event = AuditEvent.objects.filter(actor=world.omar, action="read").get()
    shown = signed_in_client(world.aud).get(f"/api/v1/audit/{event.pk}/proof").json()["event"]

    content = [shown["prev_hash"], event.at.isoformat(), shown["actor"], shown["actor_username"],
               event.agency_id_snapshot, shown["action"], shown["object_type"], shown["object_id"],
               shown["object_ids"], shown["detail"], shown["ip"]]
    digest = hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    assert digest == shown["hash"]


def test_a_proof_against_an_older_checkpoint_verifies_too(world: World) -> None:
    _log_with_checkpoints(world)
    event = AuditEvent.objects.filter(actor=world.omar, action="read").get()
    aud = signed_in_client(world.aud)
    oldest = aud.get("/api/v1/audit/checkpoints").json()["results"][-1]

    proof = aud.get(f"/api/v1/audit/{event.pk}/proof", {"tree_size": oldest["tree_size"]}).json()

    assert proof["checkpoint"]["tree_size"] == oldest["tree_size"]
    leaf = _h(b"\x00", event.pk.to_bytes(8, "big"), bytes.fromhex(event.hash))
    assert _included(leaf, proof["leaf_index"], oldest["tree_size"], [bytes.fromhex(p) for p in proof["audit_path"]],
                     bytes.fromhex(oldest["root_hash"]))


def test_an_event_not_yet_under_a_checkpoint_answers_409(world: World) -> None:
    _log_with_checkpoints(world)
    aud = signed_in_client(world.aud)
    event = AuditEvent.objects.filter(actor=world.aud).order_by("-id").first()
    assert event is not None

    response = aud.get(f"/api/v1/audit/{event.pk}/proof")

    assert response.status_code == 409
    assert response.json()["code"] == "audit_not_checkpointed"


def _consistent(first: int, first_root: bytes, second: int, second_root: bytes, proof: list[bytes]) -> bool:
    """RFC 9162 section 2.1.4.2 (first > 0, first < second)."""
    path = ([first_root] if first & (first - 1) == 0 else []) + proof
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = _h(b"\x01", c, fr), _h(b"\x01", c, sr)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = _h(b"\x01", sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == first_root and sr == second_root


def test_an_auditor_proves_a_later_checkpoint_extends_an_earlier_one(world: World) -> None:
    _log_with_checkpoints(world)
    aud = signed_in_client(world.aud)
    checkpoints = aud.get("/api/v1/audit/checkpoints").json()["results"]
    newest, oldest = checkpoints[0], checkpoints[-1]

    answer = aud.get("/api/v1/audit/consistency", {"first": oldest["tree_size"], "second": newest["tree_size"]})

    body = answer.json()
    assert _signed(body["first"]) and _signed(body["second"])
    proof = [bytes.fromhex(p) for p in body["proof"]]
    assert _consistent(oldest["tree_size"], bytes.fromhex(oldest["root_hash"]), newest["tree_size"],
                       bytes.fromhex(newest["root_hash"]), proof)
    # A first root the log never had is not consistent with the newest one.
    assert not _consistent(oldest["tree_size"], bytes(32), newest["tree_size"],
                           bytes.fromhex(newest["root_hash"]), proof)


def test_asking_for_proofs_is_itself_recorded(world: World) -> None:
    _log_with_checkpoints(world)
    event = AuditEvent.objects.filter(actor=world.omar, action="read").get()

    signed_in_client(world.aud).get(f"/api/v1/audit/{event.pk}/proof")

    read = AuditEvent.objects.filter(actor=world.aud, action=AuditEvent.Action.AUDIT_READ).get()
    assert (read.object_type, read.object_id, read.detail) == ("audit.auditevent", str(event.pk),
                                                              {"proof": "inclusion"})


def test_proofs_hold_in_a_log_of_stored_and_rebuilt_subtrees(world: World) -> None:
    """Past 16 events the proof mixes stored subtrees with ones rebuilt from leaves; every one still verifies."""
    for n in range(45):
        audit_record(actor=world.omar, action=AuditEvent.Action.READ, obj=world.case, detail={"n": n})
        if n % 7 == 6:
            audit_log_sequence(checkpoint=True)
    audit_log_sequence(checkpoint=True)
    aud = signed_in_client(world.aud)
    checkpoints = aud.get("/api/v1/audit/checkpoints").json()["results"]
    newest = checkpoints[0]

    for event in AuditEvent.objects.filter(actor=world.omar).order_by("id")[::4]:
        proof = aud.get(f"/api/v1/audit/{event.pk}/proof").json()
        leaf = _h(b"\x00", event.pk.to_bytes(8, "big"), bytes.fromhex(event.hash))
        assert _included(leaf, proof["leaf_index"], newest["tree_size"],
                         [bytes.fromhex(p) for p in proof["audit_path"]], bytes.fromhex(newest["root_hash"]))
    for older in checkpoints[1:]:
        if 0 < older["tree_size"] < newest["tree_size"]:
            body = aud.get("/api/v1/audit/consistency",
                           {"first": older["tree_size"], "second": newest["tree_size"]}).json()
            assert _consistent(older["tree_size"], bytes.fromhex(older["root_hash"]), newest["tree_size"],
                               bytes.fromhex(newest["root_hash"]), [bytes.fromhex(p) for p in body["proof"]])
