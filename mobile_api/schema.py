"""OpenAPI touches that drf-spectacular cannot infer: every refusal an operation can answer, in the one error shape.

The rule lives here, once: every operation documents the statuses any view can answer (COMMON), those that
depend on how it is called (415 with a body, 416 with a 206), and the refusals of its own (CODES). Each
documented status lists its possible `code` values in its description, as one example each, and as the
response's `x-codes` list; tests/api/test_access_matrix.py fails on an answer whose status or code is not here.
"""

from __future__ import annotations

from typing import Any

ERROR_SCHEMA = {
    "type": "object",
    "required": ["code", "message", "fields"],
    "properties": {
        "code": {"type": "string", "description": "Machine-readable, stable: e.g. case_not_found, invalid. "
                                                  "Each response lists the codes it can carry."},
        "message": {"type": "string", "description": "For people."},
        "fields": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
            "description": "What is wrong with each request field, by its dotted path (`device.kind`, "
                           "`person_ids.0`); empty when the error is not about a field.",
        },
    },
}

_DESCRIPTIONS = {
    400: "Bad input: malformed JSON, wrong types, unknown references.",
    401: "Not signed in, or the session ended (idle, expired, revoked).",
    403: "You may see this, but not do this to it.",
    404: "Not found, or not yours to see.",
    405: "This method is not allowed on this path.",
    406: "None of the types in Accept can be answered.",
    409: "The record is not in a state that allows this.",
    410: "What this names has ended (a cancelled or expired bulletin).",
    413: "The request body is too large.",
    415: "The request body's Content-Type is not one this operation reads.",
    416: "The Range asked for is outside the file; Content-Range says its size.",
    429: "Too many requests; retry later.",
}

# What any operation can answer, whatever it does.
COMMON: dict[int, tuple[str, ...]] = {
    400: ("invalid", "malformed_json"),
    404: ("not_found",),
    405: ("method_not_allowed",),
    406: ("not_acceptable",),
    413: ("body_too_large",),
    429: ("throttled",),
}
# Operations behind a token: the ways a token stops working.
SIGNED_IN: dict[int, tuple[str, ...]] = {
    401: ("not_authenticated", "malformed_token", "authentication_failed", "session_ended", "session_expired",
          "session_idle"),
}
WITH_BODY: dict[int, tuple[str, ...]] = {415: ("unsupported_media_type",)}
WITH_RANGE: dict[int, tuple[str, ...]] = {416: ("range_not_satisfiable",)}
_LINK_REFUSALS = ("link_expired", "link_invalid", "link_session_ended", "link_not_yours")
_WEBHOOK = {401: ("signature_missing", "signature_invalid", "replayed"), 400: ("invalid_source",)}
_HOT_LIST = ("hot_list_not_found",)
# A BOLO's plate follows its bulletin (apps.sensors.services._bolo_entries_refuse): no hot-list edit reaches it.
_BOLO_OWNED: dict[int, tuple[str, ...]] = {409: ("hot_list_entry_owned_by_bolo",)}
# A photo upload's refusals, wherever it is attached (apps.media.photos.photo_check).
_PHOTO_REFUSED = ("empty_file", "unsupported_image", "image_unreadable", "image_too_large")

# A bulletin's refusals (apps.bolos.services): its expiry, its photos, its audience, its plate.
_BOLO_REFUSED = ("expiry_required", "unknown_photo", "invalid_audience", "unknown_recipient", "no_recipients",
                 "plate_on_active_bolo")

# Each operation's own refusals, by operationId: the codes its services and selectors raise.
CODES: dict[str, dict[int, tuple[str, ...]]] = {
    "me_positions_report": {400: ("invalid_position", "position_out_of_range", "invalid_timestamp",
                                  "timestamp_in_future", "timestamp_too_old", "batch_too_large"),
                            429: ("position_rate_exceeded",)},
    "units_track_lookup": {400: ("purpose_required", "case_number_required", "invalid_period"),
                           404: ("unit_not_found",)},
    "calls_nearest_units_list": {404: ("call_not_found",)},
    "emergencies_raise": {400: ("position_out_of_range",), 403: ("emergency_not_allowed",)},
    "emergencies_retrieve": {404: ("emergency_not_found",)},
    "emergencies_acknowledge": {403: ("emergency_not_allowed",), 404: ("emergency_not_found",),
                                409: ("emergency_closed",)},
    "emergencies_close": {400: ("close_reason_required",), 403: ("emergency_not_allowed",),
                          404: ("emergency_not_found",), 409: ("emergency_closed",)},
    "auth_login": {401: ("invalid_credentials",)},
    "auth_mfa": {401: ("invalid_credentials", "mfa_challenge_invalid")},
    "bolo_photos_create": {400: _PHOTO_REFUSED, 403: ("bolo_read_only",), 413: ("file_too_large",)},
    "bolo_photos_file": {403: (*_LINK_REFUSALS, "original_not_allowed"), 404: ("photo_not_found",)},
    "bolo_sightings_create": {400: _PHOTO_REFUSED, 404: ("bolo_not_found",), 410: ("bolo_ended",),
                              413: ("file_too_large",)},
    "bolos_cancel": {400: ("reason_required",), 403: ("bolo_read_only",), 404: ("bolo_not_found",),
                     410: ("bolo_ended",)},
    "bolos_create": {400: _BOLO_REFUSED, 403: ("bolo_read_only",)},
    "bolos_retrieve": {404: ("bolo_not_found",)},
    "bolos_update": {400: (*_BOLO_REFUSED, "no_change"), 403: ("bolo_read_only",), 404: ("bolo_not_found",),
                     410: ("bolo_ended",)},
    "briefings_diff": {400: ("version_not_found",), 404: ("briefing_not_found",)},
    "briefings_items_add": {400: ("unknown_reference",), 403: ("briefing_read_only",), 404: ("briefing_not_found",)},
    "briefings_items_edit": {400: ("field_not_editable",), 403: ("briefing_read_only",),
                             404: ("briefing_not_found", "item_not_found")},
    "briefings_items_remove": {400: ("item_not_removable",), 403: ("briefing_read_only",),
                               404: ("briefing_not_found", "item_not_found")},
    "briefings_push": {400: ("invalid_audience", "unknown_recipient", "briefing_empty"), 403: ("push_not_allowed",),
                       404: ("briefing_not_found",)},
    "briefings_retrieve": {404: ("briefing_not_found",)},
    "briefings_versions_list": {404: ("briefing_not_found",)},
    "briefings_versions_retrieve": {404: ("briefing_not_found", "version_not_found")},
    "cad_assignments_add": {400: ("unknown_unit",), 404: ("call_not_found",)},
    "cad_assignments_clear": {404: ("call_not_found",)},
    "cad_eido_submit": {400: ("eido_incomplete", "eido_invalid")},
    "calls_camera_pins_add": {400: ("camera_not_shared",), 404: ("call_not_found", "camera_not_found")},
    "calls_camera_pins_remove": {404: ("call_not_found", "camera_not_found")},
    "calls_cameras_list": {404: ("call_not_found",)},
    "calls_retrieve": {404: ("call_not_found",)},
    "call_photos_create": {400: _PHOTO_REFUSED, 404: ("call_not_found",), 413: ("file_too_large",)},
    "call_photos_file": {403: (*_LINK_REFUSALS, "original_not_allowed"), 404: ("photo_not_found",)},
    "call_photos_list": {404: ("call_not_found",)},
    "cameras_relocate": {400: ("camera_not_mobile", "invalid_location"), 403: ("permission_denied",),
                         404: ("camera_not_found",)},
    "cameras_retrieve": {404: ("camera_not_found",)},
    "cameras_sharing_set": {403: ("not_camera_owner",), 404: ("camera_not_found",)},
    "cases_access_grant": {400: ("unknown_user", "grantee_role_not_allowed"), 403: ("case_read_only",),
                           404: ("case_not_found",)},
    "cases_access_revoke": {400: ("unknown_user",), 403: ("case_read_only",), 404: ("case_not_found",)},
    "cases_create": {400: ("unknown_reference", "case_number_taken"), 403: ("role_cannot_create_cases",)},
    "cases_list": {400: ("invalid_cursor",)},
    "cases_push": {400: ("invalid_audience", "unknown_recipient"), 403: ("push_not_allowed",),
                   404: ("case_not_found",)},
    "cases_retrieve": {404: ("case_not_found",)},
    "cases_search": {400: ("search_not_allowed_in_url",)},
    "cases_update": {400: ("unknown_reference", "no_change"), 403: ("case_read_only",), 404: ("case_not_found",)},
    "clips_cancel": {400: ("clip_finished",), 403: ("clip_read_only",), 404: ("clip_not_found",)},
    "clips_create": {400: ("clip_too_long", "camera_has_no_video"), 403: ("clip_not_allowed",),
                     404: ("call_not_found", "camera_not_found")},
    "clips_file": {403: _LINK_REFUSALS, 404: ("clip_not_found",)},
    "clips_list": {404: ("call_not_found",)},
    "clips_retrieve": {404: ("clip_not_found",)},
    "clips_upload": {400: ("empty_file", "clip_too_long"), 404: ("call_not_found",),
                     413: ("file_too_large",)},
    "devices_list": {404: ("user_not_found",)},
    "devices_revoke": {404: ("device_not_found",)},
    "hazard_areas_retrieve": {404: ("hazard_area_not_found",)},
    "hazards_delete": {400: ("reason_required",), 403: ("hazard_read_only",), 404: ("hazard_not_found",)},
    "hot_list_entries_add": {400: ("entry_exists",), 404: _HOT_LIST},
    "hot_list_entries_list": {404: _HOT_LIST},
    "hot_list_entries_remove": {404: ("entry_not_found", *_HOT_LIST), **_BOLO_OWNED},
    "hot_lists_create": {400: ("hot_list_name_taken",)},
    "hot_lists_delete": {404: _HOT_LIST, **_BOLO_OWNED},
    "hot_lists_retrieve": {404: _HOT_LIST},
    "hot_lists_update": {400: ("hot_list_name_taken",), 404: _HOT_LIST, **_BOLO_OWNED},
    "people_photos_create": {400: _PHOTO_REFUSED, 403: ("person_read_only",),
                             404: ("person_not_found",), 413: ("file_too_large",)},
    "people_retrieve": {404: ("person_not_found",)},
    "person_hazards_create": {400: ("hazard_needs_record",), 403: ("hazard_read_only",), 404: ("person_not_found",)},
    "person_hazards_list": {404: ("person_not_found",)},
    "photos_file": {403: (*_LINK_REFUSALS, "original_not_allowed"), 404: ("photo_not_found",)},
    "premise_hazards_create": {400: ("hazard_needs_record",), 403: ("hazard_read_only",),
                               404: ("premise_not_found",)},
    "premise_hazards_list": {404: ("premise_not_found",)},
    "premises_retrieve": {404: ("premise_not_found",)},
    "pushes_get": {404: ("push_not_found",)},
    "pushes_receipt": {404: ("push_not_found",)},
    "recommendation_rules_create": {400: ("rule_name_taken",), 403: ("rule_read_only",)},
    "recommendation_rules_update": {400: ("rule_name_taken",), 403: ("rule_read_only",), 404: ("rule_not_found",)},
    "referrals_create": {400: ("no_one_on_call", "recommendation_not_found"), 403: ("referral_not_allowed",),
                         404: ("call_not_found",)},
    "referrals_report": {400: ("invalid_report",)},
    "referrals_retrieve": {404: ("referral_not_found",)},
    "referrals_transition": {400: ("invalid_state", "invalid_outcome"),
                             403: ("responder_only", "offer_not_yours", "responder_reports_outcome"),
                             404: ("referral_not_found",), 409: ("invalid_transition", "offer_answered")},
    "sensor_alerts_retrieve": {404: ("alert_not_found",)},
    "sensor_alerts_snapshot": {403: _LINK_REFUSALS, 404: ("alert_not_found", "snapshot_not_found")},
    "sensor_alerts_verify": {403: ("alert_read_only",), 404: ("alert_not_found",)},
    "sensors_webhook_alpr": _WEBHOOK,
    "sensors_webhook_analytics": _WEBHOOK,
    "sensors_webhook_gunshot": _WEBHOOK,
    "users_create": {400: ("username_taken", "weak_password")},
    "users_release_lock": {400: ("account_not_locked",), 404: ("user_not_found",)},
    "users_set_active": {403: ("cannot_disable_self",), 404: ("user_not_found",)},
    "users_set_role": {403: ("cannot_change_own_role",), 404: ("user_not_found",)},
    "vehicles_retrieve": {404: ("vehicle_not_found",)},
}

# Byte ranges (RFC 9110 14): the request headers a 206 answers and the headers it answers with.
_RANGE_PARAMETERS = [
    {"in": "header", "name": "Range", "required": False, "schema": {"type": "string"},
     "description": "One byte range, e.g. `bytes=0-1048575`; several are answered whole (200)."},
    {"in": "header", "name": "If-Range", "required": False, "schema": {"type": "string"},
     "description": "The ETag of the copy you hold: a changed file is answered whole (200)."},
]
_RANGE_HEADERS = {
    "Accept-Ranges": {"schema": {"type": "string", "enum": ["bytes"]}},
    "ETag": {"schema": {"type": "string"}},
}


def operation_codes(operation: dict[str, Any]) -> dict[int, tuple[str, ...]]:
    """Every error status `operation` can answer, with the codes each can carry."""
    responses = operation.get("responses", {})
    parts = [COMMON, SIGNED_IN if operation.get("security") else {}, WITH_BODY if "requestBody" in operation else {},
             WITH_RANGE if "206" in responses else {}, CODES.get(operation["operationId"], {})]
    codes: dict[int, tuple[str, ...]] = {}
    for part in parts:
        for status, names in part.items():
            codes[status] = tuple(dict.fromkeys((*codes.get(status, ()), *names)))
    return codes


def _error_response(status: int, codes: tuple[str, ...]) -> dict[str, Any]:
    listed = ", ".join(f"`{c}`" for c in codes)
    return {
        "description": f"{_DESCRIPTIONS[status]} Codes: {listed}.",
        "x-codes": list(codes),
        "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Error"},
            "examples": {code: {"value": {"code": code, "message": "...", "fields": {}}} for code in codes},
        }},
    }


def _ranges(operation: dict[str, Any]) -> None:
    parameters = operation.setdefault("parameters", [])
    names = {p.get("name") for p in parameters}
    parameters.extend(p for p in _RANGE_PARAMETERS if p["name"] not in names)
    for status in ("200", "206"):
        operation["responses"][status].setdefault("headers", {}).update(_RANGE_HEADERS)
    operation["responses"]["206"]["headers"]["Content-Range"] = {
        "schema": {"type": "string"}, "description": "The bytes sent and the file's size: `bytes 0-1023/52144`."}


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for path in result.get("paths", {}).values():
        for operation in path.values():
            responses = operation.setdefault("responses", {})
            for status, codes in sorted(operation_codes(operation).items()):
                responses[str(status)] = _error_response(status, codes)
            if "206" in responses:
                _ranges(operation)
    return result
