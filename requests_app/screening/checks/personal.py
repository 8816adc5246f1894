"""Personal-data evidence: does an item mention the requester (name, e-mail, identifiers), and what else."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from palimpsest.ml.text import match_form

# Bounded (RFC 5321: a local part of at most 64 characters, labels of at most 63) and anchored at the
# start of the local part, so a long run of word characters costs linear time, not quadratic.
EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}", re.UNICODE)
# At least seven digits in groups: phone numbers, not years or house numbers.
PHONE = re.compile(r"(?<![\w@.])\+?\(?\d[\d ()./-]{5,}\d(?![\w@])")
_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
DATE = re.compile(
    rf"\b(?:\d{{1,2}}(?:st|nd|rd|th)?\s+(?:{_MONTHS})\.?,?\s+\d{{4}}"
    rf"|(?:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}"
    r"|\d{4}-\d{2}-\d{2}|\d{1,2}[./]\d{1,2}[./]\d{2,4})\b",
    re.IGNORECASE,
)
_STREET_KINDS = (
    "street|st|road|rd|lane|ln|avenue|ave|way|terrace|close|court|place|drive|square|quay|crescent|"
    "boulevard|strasse|straße|weg|gasse|platz|rue|allee|row|gardens|hill|park"
)
ADDRESS = re.compile(rf"\b\d{{1,5}}[a-z]?,?\s+(?:[A-Z][\w'-]*\s+){{1,3}}(?i:{_STREET_KINDS})\b", re.UNICODE)
KINDS = {"email": EMAIL, "phone": PHONE, "date": DATE, "address": ADDRESS}


@dataclass(frozen=True)
class Requester:
    """Who asks: the name and e-mail from the request, plus any identifiers they gave (phone, address)."""

    name: str
    email: str = ""
    identifiers: tuple[str, ...] = ()


@dataclass(frozen=True)
class PersonalEvidence:
    mentions_requester: bool
    matched: list[str] = field(default_factory=list)  # "full name", "e-mail", "identifier", "surname", ...
    personal_data_kinds: list[str] = field(default_factory=list)  # email, phone, date, address found
    other_emails: int = 0  # e-mail addresses in the item that are not the requester's

    @property
    def may_not_be_about_requester(self) -> bool:
        return not self.mentions_requester


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _contains_phrase(haystack_norm: str, phrase: str) -> bool:
    needle = match_form(phrase)
    return bool(needle) and f" {needle} " in f" {haystack_norm} "


def personal_evidence(text: str, requester: Requester) -> PersonalEvidence:
    norm = match_form(text)
    matched: list[str] = []
    if _contains_phrase(norm, requester.name):
        matched.append("full name")
    emails = {e.lower().rstrip(".") for e in EMAIL.findall(text)}
    own_email = requester.email.strip().lower()
    if own_email and own_email in emails:
        matched.append("e-mail")
    digit_string = _digits(text)
    for identifier in requester.identifiers:
        ident_digits = _digits(identifier)
        if len(ident_digits) >= 6 and ident_digits in digit_string:
            matched.append("identifier")
            break
        if len(ident_digits) < 6 and len(match_form(identifier)) >= 4 and _contains_phrase(norm, identifier):
            matched.append("identifier")
            break
    mentions = bool(matched)
    if not mentions:
        # A surname alone is weak (others share it) but worth showing to the officer.
        parts = match_form(requester.name).split()
        if len(parts) >= 2 and len(parts[-1]) >= 3 and _contains_phrase(norm, parts[-1]):
            matched.append("surname only")
    kinds = [kind for kind, pattern in KINDS.items() if pattern.search(text)]
    return PersonalEvidence(
        mentions_requester=mentions,
        matched=matched,
        personal_data_kinds=kinds,
        other_emails=len(emails - {own_email}),
    )
