"""Repeats across requests on the tiny demo world: the requester's own earlier request forgets an item (left
out here, and the officer is told where), while the same words in someone else's request leave it kept."""

import re
from collections import defaultdict

from requests_app.screening.checks import RequestToScreen, ScreenItem, screen_batch
from requests_app.screening.checks import verdict as V


def _pronoun_sentences(person) -> list[str]:
    """Sentences of the person's biography that speak of "she"/"he" only (no name)."""
    sentences = re.split(r"(?<=[.!?])\s+", person.records[0])
    last = person.requester.name.split()[-1]
    return [s for s in sentences if last not in s and re.match(r"(She|He|Her|His)\b", s)]


def _two_people_sharing_a_sentence(members):
    """Two members whose biographies hold one identical pronoun-only sentence (a shared hobby, say)."""
    owners = defaultdict(list)
    for person in members:
        for sentence in set(_pronoun_sentences(person)):
            owners[sentence].append(person)
    sentence, (first, second, *_) = next((s, p) for s, p in sorted(owners.items()) if len(p) >= 2)
    return sentence, first, second


def _naming_sentence(person) -> str:
    return re.split(r"(?<=[.!?])\s+", person.records[0])[0]


def test_a_sentence_someone_else_also_filed_stays_the_requesters_own(world_view, screening_context):
    # Given two requesters whose biographies share a sentence, and the first one asking twice
    sentence, first, second = _two_people_sharing_a_sentence(world_view.members)
    requests = [
        RequestToScreen(
            [ScreenItem("a0", _naming_sentence(first)), ScreenItem("a1", sentence)], first.requester, None, 1
        ),
        RequestToScreen(
            [ScreenItem("b0", _naming_sentence(second)), ScreenItem("b1", sentence)],
            second.requester,
            None,
            2,
        ),
        RequestToScreen([ScreenItem("c0", sentence)], first.requester, None, 3),
    ]

    # When they are screened one after another (the later ones see the earlier ones as earlier requests)
    _, others, again = screen_batch(requests, context=screening_context)

    # Then the second requester's copy is kept: the first one's request does not forget it for them
    shared = others.items[1]
    assert V.DUPLICATE_EARLIER not in shared.flags.codes
    assert V.COPY_OF_OTHER_REQUEST in shared.flags.codes
    reason = shared.flags.reasons[shared.flags.codes.index(V.COPY_OF_OTHER_REQUEST)]
    assert "request 1 of another requester" in reason
    assert shared.verdict == V.KEEP and "b1" in others.forget_set
    assert others.risk == V.MEDIUM  # the officer is asked to check it, nothing more
    # And the first requester's repeat is left out, with the request that forgets it named
    repeat = again.items[0]
    assert repeat.verdict == V.EXCLUDE and V.DUPLICATE_EARLIER in repeat.flags.codes
    reason = repeat.flags.reasons[repeat.flags.codes.index(V.DUPLICATE_EARLIER)]
    assert "already in your request 1" in reason and "which forgets it" in reason
    assert V.COPY_OF_OTHER_REQUEST not in repeat.flags.codes
