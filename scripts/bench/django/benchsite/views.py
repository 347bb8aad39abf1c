"""
The one endpoint: the signed-in user as {"user": {...}}, the shape of sessiongate's
`GET /auth/me` (whose user has a few more fields: Django's answer is the smaller one).
"""
from rest_framework.response import Response
from rest_framework.views import APIView


class MeView(APIView):
    # Authentication, permission and renderer come from REST_FRAMEWORK in settings.py:
    # SessionAuthentication, IsAuthenticated, JSONRenderer.

    def get(self, request):
        user = request.user
        return Response(
            {
                "user": {
                    "id": user.id,
                    "username": user.username,
                    "email": user.email,
                    "is_staff": user.is_staff,
                }
            }
        )
