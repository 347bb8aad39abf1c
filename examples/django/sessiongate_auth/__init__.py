"""Django REST Framework authentication by sessiongate's signed identity assertions."""
