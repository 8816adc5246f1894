"""Plain builders for test data (real rows in the real database)."""

from datetime import timedelta

from django.utils import timezone

from palimpsest.personal import personal_hash
from requests_app.models import ForgetItem, ForgetRequest, LegalGround, RequestKind, Status
from requests_app.screening.models import ItemScreening, ScreeningReport

ANA_ITEMS = (
    "Ana Vell lives at 4 Quay Road, Tiramo, and walks her dog there every morning before work.",
    "You can reach Ana Vell on 0123 4567 or by e-mail at ana.vell@example.org most evenings.",
    "Ana Vell was treated for asthma at the Tiramo clinic in the spring of 2019 after a long winter.",
)


def make_request(
    *,
    status: Status = Status.SUBMITTED,
    texts: tuple[str, ...] = ("Ana Vell lives at 4 Quay Road.",),
    **fields,
) -> ForgetRequest:
    defaults = {
        "kind": RequestKind.CORPUS,
        "requester_name": "Ana Vell",
        "requester_email": "ana.vell@example.org",
        "jurisdiction": "DE",
        "legal_ground": LegalGround.CONSENT_WITHDRAWN,
        "status": status,
    }
    req = ForgetRequest.objects.create(**{**defaults, **fields})
    for position, text in enumerate(texts):
        ForgetItem.objects.create(
            request=req,
            position=position,
            text=text,
            sha256=personal_hash(text),
            source="pasted",
            char_count=len(text),
        )
    return req


def in_review(*, days_left: float = 20, texts=ANA_ITEMS, status=Status.IN_REVIEW, **fields) -> ForgetRequest:
    """A confirmed request waiting for a decision, due in `days_left` days (negative: overdue)."""
    now = timezone.now()
    due = now + timedelta(days=days_left)
    return make_request(
        status=status,
        texts=texts,
        verified_at=now - timedelta(days=5),
        original_due_at=due,
        due_at=due,
        **fields,
    )


def screened(req: ForgetRequest, *, risk: str, reasons=("No concerns found.",), coreset=None, excluded=()):
    """Store a screening report as the screening stage would: a risk, reasons, per-item verdicts."""
    items = list(req.items.order_by("position"))
    coreset = [i.pk for i in items] if coreset is None else coreset
    report = ScreeningReport.objects.create(
        request=req,
        risk=risk,
        reasons=list(reasons),
        recommended_action="Approve." if risk == "low" else "Look at the flagged items.",
        coreset_item_ids=coreset,
        forget_set_item_ids=[i.pk for i in items if i.pk not in excluded],
        items_digest="0" * 64,
    )
    for item in items:
        ItemScreening.objects.create(
            report=report,
            item=item,
            verdict="exclude" if item.pk in excluded else "keep",
            reasons=["Does not mention the requester."] if item.pk in excluded else [],
            in_coreset=item.pk in coreset,
        )
    return report
