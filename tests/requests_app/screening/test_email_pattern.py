"""The e-mail pattern that screening and the guard share is bounded: a local part of at most 64
characters, found only from its start, so a huge run of word characters is no address at all."""

from requests_app.screening.checks.personal import EMAIL


def test_ordinary_addresses_are_found_whole():
    text = "Write to vora31@inklet.example or ana.vell+news@mail.example.org today."
    assert EMAIL.findall(text) == ["vora31@inklet.example", "ana.vell+news@mail.example.org"]


def test_a_local_part_over_64_characters_is_not_an_address_nor_is_its_tail():
    assert EMAIL.findall(f"{'a' * 64}@example.org") == [f"{'a' * 64}@example.org"]
    assert EMAIL.findall(f"{'a' * 65}@example.org") == []


def test_a_long_run_without_an_at_sign_matches_nothing():
    assert EMAIL.findall("x" * 200_000 + " plain words") == []
