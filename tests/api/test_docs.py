from __future__ import annotations

import pytest
from django.test import Client


@pytest.mark.django_db
def test_the_api_docs_page_and_its_assets_are_served_without_a_cdn() -> None:
    client = Client()
    page = client.get("/api/v1/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "swagger-ui" in html
    assert "cdn." not in html and "unpkg" not in html
    asset = next(part.split('"')[0] for part in html.split('src="')[1:] if "swagger-ui-bundle" in part)
    assert client.get(asset).status_code == 200


@pytest.mark.django_db
def test_the_openapi_schema_describes_bearer_sign_in_and_the_error_shape() -> None:
    schema = Client().get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert schema["components"]["securitySchemes"]["deviceToken"] == {
        "type": "http", "scheme": "bearer", "description": "The token from /api/v1/auth/login or /auth/mfa."}
    login = schema["paths"]["/api/v1/auth/login"]["post"]
    assert not login.get("security")
    cases = schema["paths"]["/api/v1/cases"]["get"]
    assert cases["security"] == [{"deviceToken": []}]
    assert cases["responses"]["404"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    assert schema["components"]["schemas"]["Error"]["required"] == ["code", "message", "fields"]


@pytest.mark.django_db
def test_an_unknown_url_answers_in_the_error_shape() -> None:
    response = Client().get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "Not found.", "fields": {}}


def test_each_operation_documents_its_refusals_and_their_codes() -> None:
    from tests.api.contract import operation

    _, _, transition = operation("referrals_transition")
    assert "invalid_transition" in transition["responses"]["409"]["x-codes"]
    assert {"responder_only", "offer_not_yours"} <= set(transition["responses"]["403"]["x-codes"])
    assert "unsupported_media_type" in transition["responses"]["415"]["x-codes"]
    _, _, push = operation("briefings_push")
    assert push["responses"]["403"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    assert "`push_not_allowed`" in push["responses"]["403"]["description"]
    _, _, clip = operation("clips_file")
    assert {"link_not_yours", "link_session_ended"} <= set(clip["responses"]["403"]["x-codes"])
    assert clip["responses"]["416"]["x-codes"] == ["range_not_satisfiable"]
    assert "Content-Range" in clip["responses"]["206"]["headers"]
    assert {"Range", "If-Range"} <= {p["name"] for p in clip["parameters"]}
    _, _, me = operation("me_retrieve")
    assert {"403", "409", "415", "416"}.isdisjoint(me["responses"]) and {"405", "406"} <= set(me["responses"])
