"""Django discovers verification.admin only: the domains' admin modules register when imported here."""

from verification.gate import admin as gate_admin  # noqa: F401
from verification.generation import admin as generation_admin  # noqa: F401
from verification.releases import admin as releases_admin  # noqa: F401
