"""Navigation by role for the base layout."""

ROLE_LINKS = [
    # (group, label, url)
    ("compliance_officer", "Review queue", "/review/"),
    ("ml_operator", "Jobs", "/jobs/"),
    ("release_manager", "Releases", "/releases/"),
]


def navigation(request):
    user = getattr(request, "user", None)
    links = []
    if user is not None and user.is_authenticated:
        groups = set(user.groups.values_list("name", flat=True))
        links = [
            {"label": label, "url": url}
            for group, label, url in ROLE_LINKS
            if user.is_superuser or group in groups
        ]
    return {"nav_links": links}
