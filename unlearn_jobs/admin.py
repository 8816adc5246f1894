"""Admin of unlearn_jobs; each domain registers its own records in its admin module."""

# Django discovers unlearn_jobs.admin only: the domains' admin modules register when imported here.
from unlearn_jobs.jobs import admin as jobs_admin  # noqa: F401
from unlearn_jobs.registry import admin as registry_admin  # noqa: F401
