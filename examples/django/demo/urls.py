from django.urls import path

from sessiongate_auth.views import WhoAmI

urlpatterns = [
    path("api/whoami/", WhoAmI.as_view()),
]
