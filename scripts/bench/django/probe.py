"""Prints, as JSON, the versions of Python, Django, DRF and gunicorn (null for a missing one)."""
import importlib
import json
import sys

found = {"python": sys.version.split()[0]}
for name, module in (
    ("django", "django"),
    ("djangorestframework", "rest_framework"),
    ("gunicorn", "gunicorn"),
):
    try:
        found[name] = importlib.import_module(module).__version__
    except ImportError:
        found[name] = None
print(json.dumps(found))
