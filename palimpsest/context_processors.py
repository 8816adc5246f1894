"""Navigation by role for the base layout: a link shows when the user holds its permission."""

# (permission, label, url). The releases stage adds its pages here when they exist.
NAV_LINKS = [
    ("requests_app.decide_forgetrequest", "Review queue", "/review/"),
    ("unlearn_jobs.view_unlearnjob", "Jobs", "/jobs/"),
    ("verification.view_releasedecision", "Releases", "/releases/"),
]


def navigation(request):
    user = getattr(request, "user", None)
    links = []
    if user is not None and user.is_authenticated:
        links = [{"label": label, "url": url} for perm, label, url in NAV_LINKS if user.has_perm(perm)]
        if user.is_staff:
            links.append({"label": "Admin", "url": "/admin/"})
    return {"nav_links": links}
