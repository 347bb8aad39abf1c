from django.apps import AppConfig


class SessionGateAuthConfig(AppConfig):
    name = "sessiongate_auth"
    default_auto_field = "django.db.models.BigAutoField"
