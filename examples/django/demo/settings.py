"""
A minimal Django project whose API trusts sessiongate: users are who the gateway's signed
X-Auth-Assertion says they are (sessiongate_auth.authentication.SessionGateAuthentication).

Settings from the environment:
  SESSIONGATE_JWKS_URL   the gateway's JWKS (default http://127.0.0.1:8787/.well-known/jwks.json)
  SESSIONGATE_ISSUER     the assertion's expected `iss` (default "sessiongate")
  SESSIONGATE_AUDIENCE   the assertion's expected `aud`: the ORIGIN_URL the gateway proxies to
                         (default http://127.0.0.1:8000)
  DJANGO_DB_PATH         the SQLite file (default db.sqlite3 beside manage.py)
"""
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

# A demo: a fixed key is fine here, never in production.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "demo-only-not-secret-0123456789-abcdefghijklmnopqrstuvwxyz")
DEBUG = os.environ.get("DJANGO_DEBUG", "") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "rest_framework",
    "sessiongate_auth",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]

ROOT_URLCONF = "demo.urls"
WSGI_APPLICATION = "demo.wsgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DJANGO_DB_PATH", str(BASE_DIR / "db.sqlite3")),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["sessiongate_auth.authentication.SessionGateAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}

SESSIONGATE = {
    "JWKS_URL": os.environ.get("SESSIONGATE_JWKS_URL", "http://127.0.0.1:8787/.well-known/jwks.json"),
    "ISSUER": os.environ.get("SESSIONGATE_ISSUER", "sessiongate"),
    "AUDIENCE": os.environ.get("SESSIONGATE_AUDIENCE", "http://127.0.0.1:8000"),
}
