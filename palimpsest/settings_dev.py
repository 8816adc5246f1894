"""The embedded mode (the demo) and the test suite: the base settings with DEBUG turned on, explicitly.

DEBUG on lets the known development secrets stand in for SECRET_KEY, PALIMPSEST_PEPPER and
PALIMPSEST_AUDIT_KEY; never run a deployment with this module.
"""

import os

# Set before the base settings are read: they derive the secrets' checks and static storage from DEBUG.
os.environ.setdefault("DEBUG", "true")

from palimpsest.settings import *  # noqa: E402,F403
