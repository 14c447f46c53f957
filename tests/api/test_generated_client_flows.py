"""Each persona's main flows through the Python client openapi-python-client generates, against a live server.

Every answer must parse into the client's models: the documented status, the documented type, and no field the
schema does not name (the generated models keep unknown keys in `additional_properties`; any there fails).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs
import pytest
from django.conf import settings
from django.test import override_settings

from apps.cases.services import person_photo_add
from tests.api.test_generated_clients import BIN, CLIENTS, _run, _schema
from tests.base import PASSWORD, World, current_code, make_world
from tests.referrals.helpers import RECOMMENDATION, referral_scene

PACKAGE = "rtcc_generated_client"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory, django_db_blocker: Any) -> Iterator[ModuleType]:
    where = tmp_path_factory.mktemp("client")
    with django_db_blocker.unblock():
        schema = _schema(where)
    _run([str(BIN / "openapi-python-client"), "generate", "--path", str(schema), "--meta", "none",
          "--config", str(CLIENTS / "openapi-python-client.yaml"), "--output-path", str(where / PACKAGE)], cwd=where)
    sys.path.insert(0, str(where))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(where))


def _api(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.api.{name}")


def _models() -> Any:
    return importlib.import_module(f"{PACKAGE}.models")


def _strict(value: Any, where: str = "") -> None:
    """No key the schema does not name, anywhere in the parsed answer."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            _strict(item, f"{where}[{i}]")
    elif attrs.has(type(value)):
        extra = getattr(value, "additional_properties", {})
        if type(value).__name__ not in _FREE_FORM:
            assert not extra, f"{where}: undocumented {sorted(extra)}"
        for field in attrs.fields(type(value)):
            if field.name != "additional_properties":
                _strict(getattr(value, field.name), f"{where}.{field.name}")


# Objects the schema leaves open on purpose: an item's section-specific data, an audit event's detail.
_FREE_FORM = {"ItemData", "AuditEventDetail"}


def ok(response: Any, model: str, status: int = 200) -> Any:
    assert response.status_code == status, (response.status_code, response.content[:300])
    expected = getattr(_models(), model)
    assert isinstance(response.parsed, expected), (model, type(response.parsed))
    _strict(response.parsed, model)
    return response.parsed


def _client(generated: ModuleType, url: str, token: str | None = None) -> Any:
    if token is None:
        return generated.Client(base_url=url, raise_on_unexpected_status=True)
    return generated.AuthenticatedClient(base_url=url, token=token, raise_on_unexpected_status=True)


def _sign_in(generated: ModuleType, url: str, username: str, world: World | None = None) -> Any:
    models = _models()
    device = models.DeviceInRequest(name=f"{username}'s phone", kind=models.KindEnum.PHONE,
                                    platform=models.PlatformEnum.ANDROID)
    answer = _api("auth.auth_login").sync_detailed(
        client=_client(generated, url), body=models.LoginRequest(username=username, password=PASSWORD, device=device))
    if isinstance(answer.parsed, models.MfaChallengeOut):
        ok(answer, "MfaChallengeOut", 202)
        user = getattr(world, username)
        user.refresh_from_db()
        answer = _api("auth.auth_mfa").sync_detailed(
            client=_client(generated, url), body=models.MfaRequest(challenge=answer.parsed.challenge,
                                                                   code=current_code(user)))
    session = ok(answer, "SessionOut", 201)
    return _client(generated, url, session.token)


@pytest.fixture(scope="session")
def server(request: pytest.FixtureRequest) -> str:
    """pytest-django's live server. Its media wrapper parses MEDIA_URL, which we leave unset (media is only
    served through signed API links), so it gets a placeholder while the server starts."""
    with override_settings(MEDIA_URL="/unserved-media/"):
        return str(request.getfixturevalue("live_server").url)


@pytest.fixture
def live(server: str, transactional_db: Any) -> tuple[str, World]:
    world = make_world()
    content = (Path(settings.BASE_DIR) / "fixtures/data/media/grace_hopper.jpg").read_bytes()
    person_photo_add(person=world.person, filename="mugshot.jpg", content=content, content_type="image/jpeg")
    return server, world


def test_officer_analyst_co_responder_and_auditor_flows_parse_into_the_generated_models(
        generated: ModuleType, live: tuple[str, World]) -> None:
    url, world = live
    scene = referral_scene(world)
    models = _models()

    # The analyst: sign in with MFA, push the call's briefing to Omar's unit, read the receipts.
    ava = _sign_in(generated, url, "ava", world)
    ok(_api("me.me_retrieve").sync_detailed(client=ava), "Me")
    push = ok(_api("calls.briefings_push").sync_detailed(
        scene.call.pk, client=ava, body=models.PushRequestRequest(audience=models.AudienceRequest(
            kind=models.AudienceKindEnum.UNIT, ids=[world.unit.pk]))), "PushDetail", 202)

    # The officer: sign in, his calls, the call, its briefing, a person and the photo, the receipt.
    omar = _sign_in(generated, url, "omar")
    calls = ok(_api("calls.calls_list").sync_detailed(client=omar, mine=True), "CallPage")
    assert [c.id for c in calls.results] == [scene.call.pk]
    ok(_api("calls.calls_retrieve").sync_detailed(scene.call.pk, client=omar), "Call")
    ok(_api("calls.briefings_retrieve").sync_detailed(scene.call.pk, client=omar), "Briefing")
    cameras = _api("calls.calls_cameras_list").sync_detailed(scene.call.pk, client=omar)
    assert cameras.status_code == 200 and isinstance(cameras.parsed, list)
    _strict(cameras.parsed)
    person = ok(_api("people.people_retrieve").sync_detailed(world.person.pk, client=omar), "Person")
    token = person.photos[0].url.rsplit("/", 1)[-1]
    photo = _api("photos.photos_file").sync_detailed(token, client=omar)
    assert photo.status_code == 200 and photo.parsed.payload.read()[:2] == b"\xff\xd8"
    part = _api("photos.photos_file").sync_detailed(token, client=omar, range_="bytes=0-9")
    assert part.status_code == 206 and len(part.parsed.payload.read()) == 10
    for state in (models.ReceiptStateEnum.DELIVERED, models.ReceiptStateEnum.OPENED,
                  models.ReceiptStateEnum.ACKNOWLEDGED):
        ok(_api("pushes.pushes_receipt").sync_detailed(push.id, client=omar,
                                                       body=models.ReceiptRequest(state=state)), "MyReceipt")
    receipts = ok(_api("pushes.pushes_get").sync_detailed(push.id, client=ava), "PushDetail")
    assert [r.status for r in receipts.recipients] == ["acknowledged"]

    # The co-responder: Ava asks for one; Cora accepts, goes en route, arrives and closes with an outcome.
    made = ok(_api("referrals.referrals_create").sync_detailed(client=ava, body=models.ReferralCreateRequest(
        call_id=scene.call.pk, recommendation_item=RECOMMENDATION)), "AgencyReferral", 201)
    cora = _sign_in(generated, url, "cora")
    page = ok(_api("referrals.referrals_list").sync_detailed(client=cora, open_=True), "ReferralPage")
    assert [r.id for r in page.results] == [made.id]
    assert isinstance(page.results[0], models.CoResponderReferral)
    ok(_api("referrals.referrals_retrieve").sync_detailed(made.id, client=cora), "CoResponderReferral")
    transition = _api("referrals.referrals_transition")
    for to in (models.ToEnum.ACCEPTED, models.ToEnum.EN_ROUTE, models.ToEnum.ON_SCENE):
        moved = ok(transition.sync_detailed(made.id, client=cora, body=models.TransitionRequest(to=to)),
                   "CoResponderReferral")
        assert moved.state == to.value
    closed = ok(transition.sync_detailed(made.id, client=cora, body=models.TransitionRequest(
        to=models.ToEnum.CLOSED, outcome=models.OutcomeEnum.RESOLVED_ON_SCENE)), "CoResponderReferral")
    assert closed.outcome == "resolved_on_scene"
    ok(_api("referrals.referrals_retrieve").sync_detailed(made.id, client=ava), "AgencyReferral")
    refused = transition.sync_detailed(made.id, client=cora, body=models.TransitionRequest(to=models.ToEnum.ACCEPTED))
    assert refused.status_code == 409 and refused.parsed.code == "invalid_transition"

    # The auditor: sign in with MFA and page through the trail.
    aud = _sign_in(generated, url, "aud", world)
    cursor: Any = generated.types.UNSET
    pages = 0
    while pages < 50:
        page = ok(_api("audit.audit_list").sync_detailed(client=aud, size=20, cursor=cursor), "AuditPage")
        pages += 1
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert pages > 1
