from rest_framework.response import Response
from rest_framework.views import APIView


class WhoAmI(APIView):
    """The caller as this Django project knows them, after SessionGateAuthentication."""

    def get(self, request):
        user = request.user
        return Response(
            {
                "id": user.pk,
                "username": user.get_username(),
                "email": user.email,
                "is_staff": user.is_staff,
                "is_superuser": user.is_superuser,
                "sub": request.auth["sub"],
            }
        )
