from django.apps import AppConfig


class BriefingsConfig(AppConfig):
    name = "apps.briefings"
    label = "briefings"
