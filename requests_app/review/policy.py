"""The review rules that pages, the API and the services share: who may decide, when two officers must,
and the grounds on which erasure may be refused."""

from requests_app.models import ForgetRequest

DECIDE_PERMISSION = "requests_app.decide_forgetrequest"
EXTEND_PERMISSION = "requests_app.extend_forgetrequest"

# GDPR Art. 17(3): the grounds on which erasure may be refused, with a text the officer can start from.
REJECTION_EXCEPTIONS: dict[str, tuple[str, str]] = {
    "expression": (
        "Freedom of expression and information — Art. 17(3)(a)",
        "The model must keep this information to exercise the right of freedom of expression and "
        "information, which in this case outweighs the request for erasure.",
    ),
    "legal_obligation": (
        "Legal obligation or public task — Art. 17(3)(b)",
        "We are required by law (or to perform a task in the public interest) to keep processing this "
        "information.",
    ),
    "public_health": (
        "Public health — Art. 17(3)(c)",
        "The information is needed for reasons of public interest in the area of public health.",
    ),
    "archiving_research": (
        "Archiving, research or statistics — Art. 17(3)(d)",
        "Erasure would make impossible or seriously impair archiving in the public interest, scientific "
        "or historical research, or statistics that rely on this information.",
    ),
    "legal_claims": (
        "Legal claims — Art. 17(3)(e)",
        "The information is needed to establish, exercise or defend legal claims.",
    ),
    "other": ("Another reason", ""),
}
# Requests whose risk is high, or not known because screening produced no report, need two officers.
FOUR_EYES_RISKS = frozenset({"high", "unknown"})


# Providers that ignore dots in the local part, and their second domain name.
_DOTLESS_DOMAINS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}


def mailbox(address: str) -> str:
    """One spelling per mailbox: lower case, no sub-address (`+tag`), and no dots where the provider
    ignores them, so that an alias of an officer's own address is recognised."""
    local, _, domain = (address or "").strip().lower().rpartition("@")
    local = local.split("+", 1)[0]
    if domain in _DOTLESS_DOMAINS:
        local, domain = local.replace(".", ""), _DOTLESS_DOMAINS[domain]
    return f"{local}@{domain}" if local else ""


def decision_refusal(user, req: ForgetRequest, *, permission: str = DECIDE_PERMISSION) -> str | None:
    """Why `user` may not decide `req` (None when they may)."""
    if not user.is_authenticated or not user.has_perm(permission):
        return "You do not have the right to make this decision."
    own = mailbox(user.email)
    if not own:
        # Without an address nobody could tell whether the request is the officer's own.
        return "Your account has no e-mail address, so we cannot check the request is not yours: ask an administrator to add it."
    if own == mailbox(req.requester_email):
        return "You made this request yourself, so another officer must decide it."
    return None
