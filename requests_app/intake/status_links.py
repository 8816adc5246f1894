"""The life of the requester's status links: revoke every link issued so far, or e-mail a fresh one.

Links are never stored (see identity.status_token); a link is revoked by moving the request's link
generation on, and a fresh link only ever goes to the requester's own address.
"""

from django.db import transaction
from django.db.models import F

from requests_app.audit import Actor, audit_append
from requests_app.intake import emails, ratelimit
from requests_app.models import ForgetRequest


@transaction.atomic
def forget_request_status_links_revoke(*, public_id) -> ForgetRequest:
    """Every status link issued so far stops working; a new one is e-mailed to the requester."""
    ForgetRequest.objects.filter(public_id=public_id).update(
        status_link_generation=F("status_link_generation") + 1
    )
    req = ForgetRequest.objects.get(public_id=public_id)
    audit_append(
        actor=Actor.subject(),
        action="request.status_links_revoked",
        obj=req,
        data={"generation": req.status_link_generation},
    )
    transaction.on_commit(lambda: emails.send_status_link(req, revoked=True), robust=True)
    return req


def forget_request_status_link_send(*, public_id, client_ip: str) -> None:
    """E-mail the current status link to the requester, if such a request exists (the caller is told
    nothing either way, so the answer does not reveal which ids exist)."""
    ratelimit.hit("status-link-ip", client_ip)
    req = ForgetRequest.objects.filter(public_id=public_id).first()
    if req is None or not req.requester_email:
        return
    ratelimit.hit("status-link-request", str(req.public_id))
    transaction.on_commit(lambda: emails.send_status_link(req, revoked=False), robust=True)
