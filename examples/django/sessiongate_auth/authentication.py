"""
DRF authentication for APIs behind sessiongate.

The gateway sends every authenticated request with `X-Auth-Assertion`: an ES256 JWT (60 s) whose
`sub` is the gateway's user id. This class verifies it against the gateway's JWKS, pinning the
issuer, the audience and the algorithm, and maps `sub` to a local user, creating it on first
sight. `X-Auth-User-Id` and `X-Auth-Username` are conveniences for logs: never trust them alone.

Settings (settings.SESSIONGATE): JWKS_URL, ISSUER, AUDIENCE, and optionally SYNC_FLAGS (default
True: `is_staff`/`is_superuser` follow the gateway's, which is then the authority for them).
"""
import threading
import time

import jwt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from rest_framework import authentication, exceptions

from .models import GatewayIdentity

ALGORITHMS = ["ES256"]
REQUIRED_CLAIMS = ["iss", "aud", "sub", "iat", "exp"]


class GatewayJWKClient(jwt.PyJWKClient):
    """PyJWKClient with a network timeout and a bounded refetch rate for unknown `kid`s."""

    TIMEOUT_SECONDS = 5
    MIN_REFRESH_SECONDS = 30

    def __init__(self, uri):
        super().__init__(uri, cache_jwk_set=True, lifespan=300)
        self._lock = threading.Lock()
        self._last_refresh = 0.0

    def fetch_data(self):
        import json
        import urllib.request
        from urllib.error import URLError

        try:
            with urllib.request.urlopen(self.uri, timeout=self.TIMEOUT_SECONDS) as response:
                data = json.load(response)
        except (URLError, OSError, ValueError) as error:
            raise jwt.PyJWKClientError(f"Fail to fetch data from the url, err: {error}")
        if self.jwk_set_cache is not None:
            self.jwk_set_cache.put(data)
        return data

    def get_signing_keys(self, refresh=False):
        if refresh:
            # A token with a made-up kid must not make every request refetch the JWKS.
            with self._lock:
                now = time.monotonic()
                if now - self._last_refresh < self.MIN_REFRESH_SECONDS:
                    refresh = False
                else:
                    self._last_refresh = now
        return super().get_signing_keys(refresh)


_clients = {}
_clients_lock = threading.Lock()


def jwk_client(url):
    """One JWKS client per URL and process, so the key set is cached between requests."""
    with _clients_lock:
        if url not in _clients:
            _clients[url] = GatewayJWKClient(url)
        return _clients[url]


def verify_assertion(token, config=None):
    """The verified claims of an assertion, or raises jwt.PyJWTError / PyJWKClientError."""
    config = config or settings.SESSIONGATE
    key = jwk_client(config["JWKS_URL"]).get_signing_key_from_jwt(token)
    return jwt.decode(
        token,
        key.key,
        algorithms=ALGORITHMS,
        issuer=config["ISSUER"],
        audience=config["AUDIENCE"],
        options={"require": REQUIRED_CLAIMS},
    )


def user_for_claims(claims, sync_flags=True):
    """The local user for the assertion's `sub`: found, or created on first sight."""
    User = get_user_model()
    sub = str(claims["sub"])
    wanted = {
        "email": claims.get("email") or "",
        **(
            {"is_staff": bool(claims.get("is_staff")), "is_superuser": bool(claims.get("is_superuser"))}
            if sync_flags
            else {}
        ),
    }
    identity = GatewayIdentity.objects.select_related("user").filter(sub=sub).first()
    if identity is None:
        try:
            with transaction.atomic():
                username = claims.get("preferred_username") or f"user-{sub}"
                # A local account that merely shares the name is not taken over.
                if User.objects.filter(username=username).exists():
                    username = f"{username}-sg{sub}"
                user = User(username=username, **wanted)
                user.set_unusable_password()
                user.save()
                identity = GatewayIdentity.objects.create(sub=sub, user=user)
        except IntegrityError:
            # Two first requests raced; the other one created the link.
            identity = GatewayIdentity.objects.select_related("user").get(sub=sub)
    user = identity.user
    changed = [field for field, value in wanted.items() if getattr(user, field) != value]
    if changed:
        for field in changed:
            setattr(user, field, wanted[field])
        user.save(update_fields=changed)
    return user


class SessionGateAuthentication(authentication.BaseAuthentication):
    """`request.user` from X-Auth-Assertion; `request.auth` is the verified claims."""

    keyword = "Assertion"

    def authenticate(self, request):
        token = request.META.get("HTTP_X_AUTH_ASSERTION")
        if not token:
            return None
        try:
            claims = verify_assertion(token)
        except (jwt.PyJWTError, jwt.PyJWKClientError) as error:
            raise exceptions.AuthenticationFailed(f"Invalid identity assertion: {error}")
        user = user_for_claims(claims, settings.SESSIONGATE.get("SYNC_FLAGS", True))
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        return (user, claims)

    def authenticate_header(self, request):
        # With a WWW-Authenticate value DRF answers 401 (not 403) to unauthenticated requests.
        return self.keyword
