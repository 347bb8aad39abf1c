from django.urls import path

from benchsite.views import MeView

urlpatterns = [
    path("api/me", MeView.as_view()),
]
