"""Helpers shared by the portal and API tests: valid input, mail parsing."""

import re
from urllib.parse import urlsplit

from django.conf import settings

URL = re.compile(r"https?://[^\s\"'<>]+")
CODE = re.compile(r"^\s{4}(\d{6})\s*$", re.MULTILINE)


def form_data(**overrides) -> dict:
    data = {
        "name": "Ana Vell",
        "email": "ana.vell@example.org",
        "jurisdiction": "DE",
        "legal_ground": "b",
        "kind": "corpus",
        "text": "Ana Vell lives at 4 Quay Road, Portmere.\n\nAna Vell was treated for asthma in 2019.",
        "concept_description": "",
        "declaration": "on",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def code_in(message) -> str:
    match = CODE.search(message.body)
    assert match, "the receipt e-mail carries no six-digit code"
    return match.group(1)


def links_in(message) -> list[str]:
    html = message.alternatives[0][0] if message.alternatives else ""
    return [url.rstrip(".,)").replace("&amp;", "&") for url in URL.findall(message.body + html)]


def local(url: str) -> str:
    """The path and query of an e-mailed absolute link, to follow it with the test client."""
    assert url.startswith(settings.SITE_URL), url
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def link_to(message, fragment: str) -> str:
    matches = [url for url in links_in(message) if fragment in url]
    assert matches, f"no link containing {fragment!r} in the e-mail"
    return local(matches[0])
