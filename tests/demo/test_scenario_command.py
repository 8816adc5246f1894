"""run_demo_scenario's refusals before anything starts, and the outbox it reads confirmation codes from
(the whole journey is tests/e2e/test_journey.py)."""

import pytest
from django.core import mail
from django.core.management import CommandError, call_command

from palimpsest.demo.management.harness import Outbox, ScenarioError


@pytest.mark.django_db
def test_without_a_model_in_production_it_says_so_and_starts_nothing(tiny_world, settings):
    settings.PALIMPSEST_DEMO_ROOT = tiny_world.root
    with pytest.raises(CommandError, match="No model version is in production"):
        call_command("run_demo_scenario", "--requests", "1")


def test_it_refuses_fewer_than_one_request():
    with pytest.raises(CommandError, match="at least 1"):
        call_command("run_demo_scenario", "--requests", "0")


def test_the_file_outbox_gives_the_code_of_the_newest_confirmation_only(settings, tmp_path):
    # Given the file-based backend (the embedded mode's), with an older code to the same address
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path)
    mail.send_mail("Please confirm your erasure request", "Your code: 111111", "a@x.invalid", ["s@x.invalid"])
    outbox = Outbox()
    before = outbox.mark()
    # When a new confirmation and an unrelated message are sent
    mail.send_mail("Please confirm your erasure request", "Your code: 424242", "a@x.invalid", ["s@x.invalid"])
    mail.send_mail("Please confirm your erasure request", "Your code: 999999", "a@x.invalid", ["o@x.invalid"])
    # Then the scenario reads the new code of that address, not the old one nor another person's
    assert outbox.code_for("s@x.invalid", since=before, timeout=1) == "424242"
    assert [m.subject for m in outbox.to("s@x.invalid")] == ["Please confirm your erasure request"] * 2


def test_an_outbox_it_cannot_read_is_refused(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    with pytest.raises(ScenarioError, match="keeps none"):
        Outbox()
