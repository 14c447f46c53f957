"""Installs RtccAdminSite as the admin site (kept apart: an AppConfig module may not import models)."""

from django.contrib.admin.apps import AdminConfig


class RtccAdminConfig(AdminConfig):
    default_site = "apps.accounts.admin_site.RtccAdminSite"
