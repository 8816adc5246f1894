"""Staff pages: sign-in (throttled, second factor), and enrolment of the second factor."""

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache

from palimpsest.errors import ApplicationError
from requests_app.staff import services
from requests_app.staff.forms import StaffAuthenticationForm, TotpConfirmForm


class StaffLoginView(auth_views.LoginView):
    authentication_form = StaffAuthenticationForm


@never_cache
@login_required
def totp_enrol(request):
    """Shows the secret (and its otpauth:// URI) once; a code from the app confirms it."""
    user = request.user
    target = request.POST.get("next") or request.GET.get("next") or "/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "/"
    if services.totp_enrolled(user):
        return render(request, "registration/totp_enrol.html", {"enrolled": True})
    form = TotpConfirmForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            services.totp_confirm(user=user, code=form.cleaned_data["code"])
        except ApplicationError as error:
            form.add_error("code", error.message)
            status = 400
        else:
            request.session[services.SESSION_KEY] = user.pk
            messages.success(request, "Your second factor is set up: sign-ins now ask for its code.")
            return redirect(target)
    elif request.method == "POST":
        status = 400
    secret = services.totp_pending_secret(user=user)
    context = {
        "form": form,
        "secret": secret,
        "uri": services.totp_uri(user=user, secret=secret),
        "next": target,
        "required": services.totp_required(user),
    }
    return render(request, "registration/totp_enrol.html", context, status=status)
