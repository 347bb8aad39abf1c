"""
A minimal production-like Django + DRF API for `npm run bench:django`: the baseline that
sessiongate's `GET /auth/me` is compared with. Session authentication exactly as a DRF app runs
it: django.contrib.sessions with its default database backend, the session, CSRF and
authentication middleware, DRF's SessionAuthentication and IsAuthenticated, JSON only.

Settings from the environment (the benchmark sets both):
  BENCH_DJANGO_DB          the SQLite file (a temporary directory of the run)
  BENCH_DJANGO_SECRET_KEY  SECRET_KEY (random per run)
"""
import os

from django.core.exceptions import ImproperlyConfigured


def _required(name):
    value = os.environ.get(name, "")
    if not value:
        raise ImproperlyConfigured(f"{name} must be set (npm run bench:django sets it).")
    return value


SECRET_KEY = _required("BENCH_DJANGO_SECRET_KEY")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "rest_framework",
    # Only for its management command (bench_session); it has no models.
    "benchsite",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]

ROOT_URLCONF = "benchsite.urls"
WSGI_APPLICATION = "benchsite.wsgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": _required("BENCH_DJANGO_DB"),
        # Persistent connections, as a tuned deployment runs: each gunicorn worker keeps its
        # connection instead of opening one per request (Django's default, 0, would).
        "CONN_MAX_AGE": None,
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True

# Django's defaults, spelled out because they are what is being measured: sessions in the
# database, read on every authenticated request and written only when they change.
SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_SAVE_EVERY_REQUEST = False

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # A JSON API: no form or multipart parsers either.
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
}

# Nothing is logged per request (gunicorn's access log is off too): not even django.request's
# warning for each 4xx. Errors still reach stderr, where the benchmark keeps them for a report.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler", "level": "ERROR"}},
    "root": {"handlers": ["stderr"], "level": "ERROR"},
}
