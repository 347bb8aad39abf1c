"""
`manage.py bench_session USERNAME EMAIL`: creates the user (password from stdin) and logs it in
through Django's own login (django.test.Client.login: authenticate, then
django.contrib.auth.login into a database session), then prints the session as JSON:
{"sessionid": ..., "user": {...}}.
"""
import json
import sys

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.test import Client


class Command(BaseCommand):
    help = "Creates a user and a logged-in session; prints the sessionid cookie as JSON."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("email")

    def handle(self, *args, **options):
        password = sys.stdin.readline().rstrip("\n")
        if not password:
            raise CommandError("the password is read from stdin")
        user = get_user_model().objects.create_user(
            options["username"], options["email"], password
        )
        client = Client()
        if not client.login(username=options["username"], password=password):
            raise CommandError("Django refused the login")
        self.stdout.write(
            json.dumps(
                {
                    "sessionid": client.cookies["sessionid"].value,
                    "user": {
                        "id": user.id,
                        "username": user.username,
                        "email": user.email,
                        "is_staff": user.is_staff,
                    },
                }
            )
        )
