"""A Content-Security-Policy on every page that allows only the project's own assets; a script that must
stay inline carries the response's nonce."""

import re

import pytest
from django.urls import reverse

from tests.requests_app.factories import in_review

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("isolated_cache")]
SCRIPT = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)
HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)


def policy_of(response) -> dict[str, list[str]]:
    header = response.get("Content-Security-Policy", "")
    assert header, f"no Content-Security-Policy on {response.request['PATH_INFO']}"
    return {d.split()[0]: d.split()[1:] for d in header.split(";") if d.strip()}


def pages(client, officer):
    req = in_review()
    anonymous = [
        client.get("/"),
        client.get("/forget/"),
        client.post("/forget/", {"name": ""}),  # the form with its error summary
        client.get(reverse("login")),
        client.get("/admin/login/"),
        client.get("/api/v1/docs/"),
        client.get(f"/forget/status/{req.public_id}/", {"t": "wrong"}),
    ]
    client.force_login(officer)
    staff = [
        client.get(reverse("review:queue")),
        client.get(reverse("review:detail", kwargs={"public_id": req.public_id})),
    ]
    return anonymous + staff


def test_every_page_allows_only_its_own_scripts_and_styles(client, officer):
    for response in pages(client, officer):
        path = response.request["PATH_INFO"]
        policy = policy_of(response)
        # Then nothing but this origin (and the response's nonce) may run or style the page
        assert policy["default-src"] == ["'self'"], path
        assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"], path
        assert policy["base-uri"] == ["'none'"] and policy["form-action"] == ["'self'"], path
        for directive in ("script-src", "style-src"):
            assert not any("unsafe" in source or source.startswith("http") for source in policy[directive]), (
                path
            )
        nonces = [s for s in policy["script-src"] if s.startswith("'nonce-")]
        assert len(nonces) == 1, path
        nonce = nonces[0][len("'nonce-") : -1]
        # And every script on the page is either a same-origin file or carries that nonce
        html = response.content.decode()
        for attributes in SCRIPT.findall(html):
            src = re.search(r'src="([^"]*)"', attributes)
            if src:
                assert src.group(1).startswith("/") and not src.group(1).startswith("//"), (path, attributes)
            elif "application/json" not in attributes:
                assert f'nonce="{nonce}"' in attributes, (path, attributes)
        assert not HANDLER.search(html), (path, HANDLER.search(html).group(0))


def test_the_nonce_is_new_for_every_response(client):
    first, second = (policy_of(client.get("/"))["script-src"] for _ in range(2))
    assert first != second


def test_the_api_docs_load_their_script_as_a_file(client):
    page = client.get("/api/v1/docs/").content.decode()
    script = re.search(r'<script src="(/api/v1/docs/\?script=[^"]*)"', page)
    assert script, "the docs page loads its setup script from this origin"
    response = client.get(script.group(1).replace("&amp;", "&"))
    assert response.status_code == 200 and b"SwaggerUIBundle" in response.content
