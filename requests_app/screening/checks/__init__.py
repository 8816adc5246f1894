"""Screening of forget requests (no Django): duplicates, quality, personal data, membership, poison, coreset."""

from requests_app.screening.checks.concept import CorpusIndex, ExpandedItem, expand_concept
from requests_app.screening.checks.context import ScreeningConfig, ScreeningContext, build_context
from requests_app.screening.checks.dedupe import (
    CombinedIndex,
    DuplicateIndex,
    IndexedItem,
    InMemoryIndex,
    ItemRef,
)
from requests_app.screening.checks.personal import Requester
from requests_app.screening.checks.pipeline import (
    ItemReport,
    RequestReport,
    RequestToScreen,
    ScreenItem,
    screen,
    screen_batch,
)

__all__ = [
    "CombinedIndex",
    "CorpusIndex",
    "DuplicateIndex",
    "ExpandedItem",
    "IndexedItem",
    "InMemoryIndex",
    "ItemRef",
    "ItemReport",
    "RequestReport",
    "RequestToScreen",
    "Requester",
    "ScreenItem",
    "ScreeningConfig",
    "ScreeningContext",
    "build_context",
    "expand_concept",
    "screen",
    "screen_batch",
]
