"""
Tests of SessionGateAuthentication against a real local JWKS server (a thread), with keys and
tokens made here the way sessiongate makes them (ES256, kid, iss/aud/sub/exp).

Run: python3 manage.py test   (Debian: python3-django python3-djangorestframework python3-jwt)
"""
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from django.contrib.auth import get_user_model
from django.test import TestCase, override_settings
from jwt.algorithms import ECAlgorithm

from . import authentication

ISSUER = "sessiongate"
AUDIENCE = "http://127.0.0.1:8000"


def new_key():
    kid = uuid.uuid4().hex
    private = ec.generate_private_key(ec.SECP256R1())
    public = json.loads(ECAlgorithm.to_jwk(private.public_key()))
    public.update({"kid": kid, "alg": "ES256", "use": "sig"})
    return kid, private, public


class JWKSServer:
    """Serves {"keys": [...]} on a free loopback port and counts the fetches."""

    def __init__(self, keys):
        self.keys = keys
        self.fetches = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                outer.fetches += 1
                body = json.dumps({"keys": outer.keys}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/.well-known/jwks.json"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class SessionGateAuthenticationTests(TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.kid, cls.private, public = new_key()
        cls.jwks = JWKSServer([public])
        cls.settings_override = override_settings(
            SESSIONGATE={"JWKS_URL": cls.jwks.url, "ISSUER": ISSUER, "AUDIENCE": AUDIENCE}
        )
        cls.settings_override.enable()

    @classmethod
    def tearDownClass(cls):
        cls.settings_override.disable()
        cls.jwks.close()
        super().tearDownClass()

    def token(self, key=None, kid=None, algorithm="ES256", **overrides):
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "42",
            "preferred_username": "ada",
            "email": "ada@example.com",
            "is_staff": False,
            "is_superuser": False,
            "iat": now,
            "exp": now + 60,
            "jti": uuid.uuid4().hex,
        }
        claims.update(overrides)
        claims = {name: value for name, value in claims.items() if value is not None}
        return jwt.encode(
            claims, key or self.private, algorithm=algorithm, headers={"kid": kid or self.kid}
        )

    def whoami(self, token=None, **headers):
        if token is not None:
            headers["HTTP_X_AUTH_ASSERTION"] = token
        return self.client.get("/api/whoami/", **headers)

    def test_valid_assertion_authenticates_and_creates_the_user(self):
        response = self.whoami(self.token())
        self.assertEqual(response.status_code, 200)
        body = response.json()
        self.assertEqual(body["username"], "ada")
        self.assertEqual(body["email"], "ada@example.com")
        self.assertEqual(body["sub"], "42")
        self.assertEqual(get_user_model().objects.filter(username="ada").count(), 1)

    def test_same_sub_maps_to_the_same_user_and_follows_changes(self):
        first = self.whoami(self.token()).json()
        second = self.whoami(self.token(email="new@example.com", is_staff=True)).json()
        self.assertEqual(first["id"], second["id"])
        self.assertEqual(second["email"], "new@example.com")
        self.assertTrue(second["is_staff"])
        self.assertEqual(get_user_model().objects.count(), 1)

    def test_existing_local_username_is_not_taken_over(self):
        local = get_user_model().objects.create_user("ada", password="local-password-123")
        body = self.whoami(self.token()).json()
        self.assertNotEqual(body["id"], local.pk)
        self.assertEqual(body["username"], "ada-sg42")

    def test_missing_assertion_is_401(self):
        response = self.whoami(None, HTTP_X_AUTH_USER_ID="42", HTTP_X_AUTH_USERNAME="ada")
        self.assertEqual(response.status_code, 401)
        self.assertEqual(response["WWW-Authenticate"], "Assertion")

    def test_expired_assertion_is_401(self):
        now = int(time.time())
        self.assertEqual(self.whoami(self.token(iat=now - 120, exp=now - 60)).status_code, 401)

    def test_wrong_audience_or_issuer_is_401(self):
        self.assertEqual(self.whoami(self.token(aud="http://other.example")).status_code, 401)
        self.assertEqual(self.whoami(self.token(iss="someone-else")).status_code, 401)

    def test_missing_required_claim_is_401(self):
        self.assertEqual(self.whoami(self.token(exp=None)).status_code, 401)

    def test_key_not_in_the_jwks_is_401(self):
        kid, private, _ = new_key()
        self.assertEqual(self.whoami(self.token(key=private, kid=kid)).status_code, 401)
        # Signed by a foreign key under the gateway's kid.
        self.assertEqual(self.whoami(self.token(key=private)).status_code, 401)

    def test_other_algorithms_are_refused(self):
        forged = self.token(key="a-shared-secret", algorithm="HS256")
        self.assertEqual(self.whoami(forged).status_code, 401)
        unsigned = jwt.encode({"sub": "1"}, None, algorithm="none", headers={"kid": self.kid})
        self.assertEqual(self.whoami(unsigned).status_code, 401)

    def test_tampered_assertion_is_401(self):
        header, payload, signature = self.token().split(".")
        claims = json.loads(jwt.utils.base64url_decode(payload))
        claims["is_superuser"] = True
        forged_payload = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
        self.assertEqual(self.whoami(f"{header}.{forged_payload}.{signature}").status_code, 401)

    def test_unknown_kids_do_not_refetch_the_jwks_every_time(self):
        kid, private, _ = new_key()
        self.whoami(self.token())
        before = self.jwks.fetches
        for _ in range(5):
            self.whoami(self.token(key=private, kid=kid))
        self.assertLessEqual(self.jwks.fetches - before, 1)
