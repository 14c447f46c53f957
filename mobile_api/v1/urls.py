from __future__ import annotations

from django.urls import path

from mobile_api.v1 import audit, auth, cases, users

app_name = "v1"

urlpatterns = [
    path("auth/login", auth.LoginView.as_view(), name="auth-login"),
    path("auth/mfa", auth.MfaView.as_view(), name="auth-mfa"),
    path("auth/logout", auth.LogoutView.as_view(), name="auth-logout"),
    path("me", users.MeView.as_view(), name="me"),
    path("me/device", users.MyDeviceView.as_view(), name="me-device"),
    path("devices", users.DeviceListView.as_view(), name="device-list"),
    path("devices/<int:device_id>/revoke", users.DeviceRevokeView.as_view(), name="device-revoke"),
    path("users", users.UserListView.as_view(), name="user-list"),
    path("users/<int:user_id>/release-lock", users.UserReleaseLockView.as_view(), name="user-release-lock"),
    path("users/<int:user_id>/active", users.UserActiveView.as_view(), name="user-active"),
    path("users/<int:user_id>/role", users.UserRoleView.as_view(), name="user-role"),
    path("cases", cases.CaseListView.as_view(), name="case-list"),
    path("cases/search", cases.CaseSearchView.as_view(), name="case-search"),
    path("cases/<int:case_id>", cases.CaseDetailView.as_view(), name="case-detail"),
    path("cases/<int:case_id>/access", cases.CaseAccessView.as_view(), name="case-access"),
    path("cases/<int:case_id>/access/<int:user_id>", cases.CaseAccessRemoveView.as_view(), name="case-access-remove"),
    path("people", cases.PersonListView.as_view(), name="person-list"),
    path("people/search", cases.PersonSearchView.as_view(), name="person-search"),
    path("people/<int:person_id>", cases.PersonDetailView.as_view(), name="person-detail"),
    path("vehicles", cases.VehicleListView.as_view(), name="vehicle-list"),
    path("vehicles/search", cases.VehicleSearchView.as_view(), name="vehicle-search"),
    path("vehicles/<int:vehicle_id>", cases.VehicleDetailView.as_view(), name="vehicle-detail"),
    path("premises", cases.PremiseListView.as_view(), name="premise-list"),
    path("premises/search", cases.PremiseSearchView.as_view(), name="premise-search"),
    path("premises/<int:premise_id>", cases.PremiseDetailView.as_view(), name="premise-detail"),
    path("photos/<str:token>", cases.PhotoFileView.as_view(), name="photo-file"),
    path("audit", audit.AuditListView.as_view(), name="audit-list"),
]
