from django.conf import settings
from django.db import models


class GatewayIdentity(models.Model):
    """Links the gateway's user id (the assertion's `sub`) to a local Django user."""

    sub = models.CharField(max_length=64, unique=True)
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="gateway_identity")

    def __str__(self):
        return f"{self.sub} -> {self.user}"
