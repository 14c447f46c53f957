"""The v1 URLs: one table, name to (pattern, view), in the order Django tries them.

A pattern starting with ^ is a regular expression (re_path); the others are Django's path syntax.
Names are reversed as `v1:<name>`.
"""

from __future__ import annotations

from typing import Any

from django.urls import URLPattern, path, re_path

from mobile_api.v1 import (
    audit,
    auth,
    briefings,
    call_photos,
    calls,
    cameras,
    cases,
    emergencies,
    hazards,
    hot_lists,
    locations,
    media,
    plate_reads,
    pushes,
    referrals,
    sensor_alerts,
    sensor_webhooks,
    stream,
    users,
)

app_name = "v1"

ROUTES: dict[str, tuple[str, Any]] = {
    # Sensor webhooks first: plate readers post several times a second, and Django tries every pattern above
    # the one that matches (about a tenth of a read's CPU when they came last, bench/alpr_ingest.py).
    "sensor-webhook-alpr": (rf"^sensors/webhooks/alpr/(?P<key>{sensor_webhooks.SOURCE_KEY_PATTERN})$",
        sensor_webhooks.AlprWebhookView),
    "sensor-webhook-gunshot": (rf"^sensors/webhooks/gunshot/(?P<key>{sensor_webhooks.SOURCE_KEY_PATTERN})$",
        sensor_webhooks.GunshotWebhookView),
    "sensor-webhook-analytics": (rf"^sensors/webhooks/analytics/(?P<key>{sensor_webhooks.SOURCE_KEY_PATTERN})$",
        sensor_webhooks.AnalyticsWebhookView),
    "auth-login": ("auth/login", auth.LoginView),
    "auth-mfa": ("auth/mfa", auth.MfaView),
    "auth-logout": ("auth/logout", auth.LogoutView),
    "me": ("me", users.MeView),
    "me-device": ("me/device", users.MyDeviceView),
    "me-location": ("me/location", users.MyLocationView),
    "me-positions": ("me/positions", locations.MyPositionsView),
    "me-track-lookups": ("me/track-lookups", locations.MyTrackLookupListView),
    "unit-positions": ("units/positions", locations.UnitPositionListView),
    "unit-track": ("units/<int:unit_id>/track", locations.UnitTrackView),
    "call-nearest-units": ("calls/<int:call_id>/nearest-units", locations.CallNearestUnitsView),
    "emergency-list": ("emergencies", emergencies.EmergencyListView),
    "emergency-detail": ("emergencies/<int:emergency_id>", emergencies.EmergencyDetailView),
    "emergency-acknowledge": ("emergencies/<int:emergency_id>/acknowledge", emergencies.EmergencyAcknowledgeView),
    "emergency-close": ("emergencies/<int:emergency_id>/close", emergencies.EmergencyCloseView),
    "me-calls": ("me/calls", calls.MyCallsView),
    "me-pushes": ("me/pushes", pushes.MyPendingPushesView),
    "device-list": ("devices", users.DeviceListView),
    "device-revoke": ("devices/<int:device_id>/revoke", users.DeviceRevokeView),
    "user-list": ("users", users.UserListView),
    "user-release-lock": ("users/<int:user_id>/release-lock", users.UserReleaseLockView),
    "user-active": ("users/<int:user_id>/active", users.UserActiveView),
    "user-role": ("users/<int:user_id>/role", users.UserRoleView),
    "case-list": ("cases", cases.CaseListView),
    "case-search": ("cases/search", cases.CaseSearchView),
    "case-detail": ("cases/<int:case_id>", cases.CaseDetailView),
    "case-access": ("cases/<int:case_id>/access", cases.CaseAccessView),
    "case-access-remove": ("cases/<int:case_id>/access/<int:user_id>", cases.CaseAccessRemoveView),
    "person-list": ("people", cases.PersonListView),
    "person-search": ("people/search", cases.PersonSearchView),
    "person-detail": ("people/<int:person_id>", cases.PersonDetailView),
    "vehicle-list": ("vehicles", cases.VehicleListView),
    "vehicle-search": ("vehicles/search", cases.VehicleSearchView),
    "vehicle-detail": ("vehicles/<int:vehicle_id>", cases.VehicleDetailView),
    "premise-list": ("premises", cases.PremiseListView),
    "premise-search": ("premises/search", cases.PremiseSearchView),
    "premise-detail": ("premises/<int:premise_id>", cases.PremiseDetailView),
    "person-photos": ("people/<int:person_id>/photos", cases.PersonPhotoListView),
    "photo-file": ("photos/<str:token>", cases.PhotoFileView),
    "audit-list": ("audit", audit.AuditListView),
    "audit-checkpoints": ("audit/checkpoints", audit.AuditCheckpointListView),
    "audit-consistency": ("audit/consistency", audit.AuditConsistencyView),
    "audit-proof": ("audit/<int:event_id>/proof", audit.AuditProofView),
    "briefing": ("calls/<int:call_id>/briefing", briefings.BriefingView),
    "briefing-versions": ("calls/<int:call_id>/briefing/versions", briefings.BriefingVersionListView),
    "briefing-version": ("calls/<int:call_id>/briefing/versions/<int:number>", briefings.BriefingVersionView),
    "briefing-diff": ("calls/<int:call_id>/briefing/diff", briefings.BriefingDiffView),
    "briefing-items": ("briefings/<int:briefing_id>/items", briefings.BriefingItemListView),
    "briefing-item": ("briefings/<int:briefing_id>/items/<str:item_id>", briefings.BriefingItemView),
    "rule-list": ("recommendation-rules", briefings.RuleListView),
    "rule-detail": ("recommendation-rules/<int:rule_id>", briefings.RuleView),
    "hazard-area-list": ("hazard-areas", hazards.HealthAreaListView),
    "hazard-area-detail": ("hazard-areas/<int:area_id>", hazards.HealthAreaDetailView),
    "premise-hazards": ("premises/<int:premise_id>/hazards", hazards.PremiseHazardsView),
    "person-hazards": ("people/<int:person_id>/hazards", hazards.PersonHazardsView),
    "hazard-detail": ("hazards/<int:hazard_id>", hazards.HazardView),
    "call-list": ("calls", calls.CallListView),
    "call-detail": ("calls/<int:call_id>", calls.CallDetailView),
    "call-cameras": ("calls/<int:call_id>/cameras", cameras.CallCamerasView),
    "call-camera-pins": ("calls/<int:call_id>/camera-pins", cameras.CallCameraPinListView),
    "call-camera-pin": ("calls/<int:call_id>/camera-pins/<int:camera_id>", cameras.CallCameraPinView),
    "camera-list": ("cameras", cameras.CameraListView),
    "camera-detail": ("cameras/<int:camera_id>", cameras.CameraDetailView),
    "camera-sharing": ("cameras/<int:camera_id>/sharing", cameras.CameraSharingView),
    "camera-relocate": ("cameras/<int:camera_id>/relocate", cameras.CameraRelocateView),
    "cad-call": (rf"^cad/calls/(?P<event_number>{calls.EVENT_NUMBER_PATTERN})$", calls.CadCallView),
    "cad-assignments": (rf"^cad/calls/(?P<event_number>{calls.EVENT_NUMBER_PATTERN})/assignments$",
        calls.CadAssignmentListView),
    "cad-assignment": (rf"^cad/calls/(?P<event_number>{calls.EVENT_NUMBER_PATTERN})/assignments/"
                       rf"(?P<unit>{calls.UNIT_PATTERN})$", calls.CadAssignmentView),
    "cad-eido": ("cad/eido", calls.CadEidoView),
    "stream-ticket": ("stream/ticket", stream.StreamTicketView),
    "call-clips": ("calls/<int:call_id>/clips", media.CallClipListView),
    "call-photos": ("calls/<int:call_id>/photos", call_photos.CallPhotoListView),
    "call-photo-file": ("media/call-photos/<str:token>", call_photos.CallPhotoFileView),
    "call-clip-upload": ("calls/<int:call_id>/clips/upload", media.CallClipUploadView),
    "clip-detail": ("clips/<int:clip_id>", media.ClipDetailView),
    "clip-cancel": ("clips/<int:clip_id>/cancel", media.ClipCancelView),
    "clip-file": ("media/clips/<str:token>", media.ClipFileView),
    "stream-ack": ("stream/ack", pushes.StreamAckView),
    "briefing-push": ("calls/<int:call_id>/briefing/push", pushes.BriefingPushView),
    "case-push": ("cases/<int:case_id>/push", pushes.CasePushView),
    "push-list": ("pushes", pushes.PushListView),
    "push-recipients": ("pushes/recipients", pushes.RecipientChoiceListView),
    "push-detail": ("pushes/<int:push_id>", pushes.PushDetailView),
    "push-receipt": ("pushes/<int:push_id>/receipt", pushes.PushReceiptView),
    "referral-list": ("referrals", referrals.ReferralListView),
    "referral-report": ("referrals/report", referrals.ReferralReportView),
    "referral-detail": ("referrals/<int:referral_id>", referrals.ReferralDetailView),
    "referral-transitions": ("referrals/<int:referral_id>/transitions", referrals.ReferralTransitionView),
    "sensor-alert-list": ("sensors/alerts", sensor_alerts.AlertListView),
    "sensor-alert-detail": ("sensors/alerts/<int:alert_id>", sensor_alerts.AlertDetailView),
    "sensor-alert-verify": ("sensors/alerts/<int:alert_id>/verify", sensor_alerts.AlertVerifyView),
    "sensor-alert-snapshot": ("sensors/snapshots/<str:token>", sensor_alerts.AlertSnapshotFileView),
    "hot-list-list": ("hot-lists", hot_lists.HotListListView),
    "hot-list-detail": ("hot-lists/<int:hot_list_id>", hot_lists.HotListView),
    "hot-list-entries": ("hot-lists/<int:hot_list_id>/entries", hot_lists.HotListEntryListView),
    "hot-list-entry": ("hot-lists/<int:hot_list_id>/entries/<int:entry_id>", hot_lists.HotListEntryView),
    "plate-read-search": ("plate-reads/search", plate_reads.PlateReadSearchView),
}


def _route(name: str, pattern: str, view: Any) -> URLPattern:
    make = re_path if pattern.startswith("^") else path
    return make(pattern, view.as_view(), name=name)


urlpatterns = [_route(name, pattern, view) for name, (pattern, view) in ROUTES.items()]
