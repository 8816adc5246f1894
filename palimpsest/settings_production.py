"""Production settings: the base settings with every `check --deploy` hardening switched on.

Use with DJANGO_SETTINGS_MODULE=palimpsest.settings_production (the image does); SECRET_KEY,
PALIMPSEST_PEPPER, PALIMPSEST_AUDIT_KEY and, for SMTP, EMAIL_HOST must be set.
"""

import os

# Forced, not defaulted: the base settings derive the insecure-key check, static storage and
# whitenoise's development switches from DEBUG as they are read.
os.environ["DEBUG"] = "false"

from palimpsest.env import env_bool, env_int  # noqa: E402
from palimpsest.settings import *  # noqa: E402,F403

SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", default=31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=True)

# A signing key in a file next to the code would be lost with the container and is not backed up:
# production takes it from the environment (or a secret mounted into it).
if not PALIMPSEST_SIGNING_KEY:  # noqa: F405
    raise RuntimeError("PALIMPSEST_SIGNING_KEY must be set in production (base64 of a 32-byte Ed25519 seed).")
if EMAIL_BACKEND == "django.core.mail.backends.smtp.EmailBackend" and not EMAIL_HOST:  # noqa: F405
    raise RuntimeError("EMAIL_HOST must be set: the SMTP relay that sends the requesters' e-mails.")
