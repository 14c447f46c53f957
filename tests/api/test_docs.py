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
