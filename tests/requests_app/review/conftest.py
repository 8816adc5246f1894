"""Review fixtures: officers and other staff, requests waiting for a decision, a clean guard."""

import importlib
from datetime import timedelta

import pytest
from django.utils import timezone

from requests_app import guard
from requests_app.models import ForgetRequest, Status
from tests.requests_app.factories import make_request

PASSWORD = "correct-horse-battery-staple"
ANA_ITEMS = (
    "Ana Vell lives at 4 Quay Road, Tiramo, and walks her dog there every morning before work.",
    "You can reach Ana Vell on 0123 4567 or by e-mail at ana.vell@example.org most evenings.",
    "Ana Vell was treated for asthma at the Tiramo clinic in the spring of 2019 after a long winter.",
)


@pytest.fixture(autouse=True)
def _fresh_guard_index():
    # Each test's database is rolled back; this process's in-memory copy must not outlive it.
    guard.guard_reset_local()
    yield
    guard.guard_reset_local()


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


def ensure_role(role: str):
    """The role's group; made again with its permissions when a transactional test flushed it."""
    from django.contrib.auth.models import Group, Permission

    roles = importlib.import_module("requests_app.migrations.0002_roles_and_audit_head").ROLES
    group, created = Group.objects.get_or_create(name=role)
    if created:
        for code in roles[role]:
            app_label, codename = code.split(".")
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
    return group


@pytest.fixture
def make_user(django_user_model):
    def make(username: str, *role_names: str, password: str = PASSWORD):
        user = django_user_model.objects.create_user(username=username, password=password)
        user.groups.add(*(ensure_role(role) for role in role_names))
        return user

    return make


@pytest.fixture
def officer(make_user):
    user = make_user("olga", "compliance_officer")
    user.email = "olga@palimpsest.invalid"
    user.save(update_fields=["email"])
    return user


@pytest.fixture
def second_officer(make_user):
    user = make_user("oscar", "compliance_officer")
    user.email = "oscar@palimpsest.invalid"
    user.save(update_fields=["email"])
    return user


@pytest.fixture
def release_manager(make_user):
    return make_user("rita", "release_manager")


@pytest.fixture
def ml_operator(make_user):
    return make_user("mo", "ml_operator")


@pytest.fixture
def officer_client(client, officer):
    client.force_login(officer)
    return client


def screened(req: ForgetRequest, *, risk: str, reasons=("No concerns found.",), coreset=None, excluded=()):
    """Store a screening report as the screening stage would: a risk, reasons, per-item verdicts."""
    from requests_app.models import ItemScreening, ScreeningReport

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
