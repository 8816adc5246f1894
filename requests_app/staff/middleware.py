"""The second factor, enforced on every request of a signed-in account that has or needs one."""

from django.contrib.auth import logout
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

from requests_app.staff import services


class SecondFactorMiddleware:
    """An account that needs a second factor and has none is sent to enrol; a session that did not prove
    it (signed in before enrolment, say) is signed out. API calls get a 403 instead of a redirect."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is None
            or not user.is_authenticated
            or request.session.get(services.SESSION_KEY) == user.pk
            or request.path in (reverse("totp-enrol"), reverse("logout"))
        ):
            return self.get_response(request)
        enrolled = services.totp_enrolled(user)
        if not enrolled and not services.totp_required(user):
            return self.get_response(request)
        if request.path.startswith("/api/"):
            return JsonResponse(
                {"error": "This account must sign in with its second factor (TOTP) first."}, status=403
            )
        if not enrolled:
            return redirect(f"{reverse('totp-enrol')}?{urlencode({'next': request.get_full_path()})}")
        logout(request)
        return redirect(f"{reverse('login')}?{urlencode({'next': request.get_full_path()})}")
