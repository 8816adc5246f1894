"""The one staff sign-in form, for the login page and the admin: throttled, with the second factor."""

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from requests_app.intake import ratelimit
from requests_app.staff import services


class SecondFactorSignInMixin(forms.Form):
    otp = forms.CharField(
        label="Authentication code",
        required=False,
        max_length=10,
        help_text="The six digits your authenticator app shows, if your account has a second factor.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        client_ip = ratelimit.client_ip(self.request)
        refusal = services.signin_refusal(username=username, client_ip=client_ip)
        if refusal:
            raise ValidationError(refusal, code="throttled")
        try:
            cleaned = super().clean()
        except ValidationError:
            user_id = self.user_cache.pk if self.user_cache else None
            services.signin_failed(username=username, client_ip=client_ip, user_id=user_id, reason="password")
            raise
        user = self.get_user()
        if services.totp_enrolled(user):
            code = cleaned.get("otp") or ""
            if not code.strip():
                raise ValidationError(
                    "Enter the six-digit code from your authenticator app.", code="otp_missing"
                )
            if not services.totp_verify(user=user, code=code):
                services.signin_failed(username=username, client_ip=client_ip, user_id=user.pk, reason="code")
                raise ValidationError(
                    "That authentication code is not right, or was used already.", code="otp"
                )
            # login() keeps the session's data (it only cycles the key): the proof survives it.
            self.request.session[services.SESSION_KEY] = user.pk
        return cleaned


class StaffAuthenticationForm(SecondFactorSignInMixin, AuthenticationForm):
    pass


class StaffAdminAuthenticationForm(SecondFactorSignInMixin, AdminAuthenticationForm):
    pass


class TotpConfirmForm(forms.Form):
    code = forms.CharField(label="Code from your app", max_length=10)
