"""Screening of forget requests (no Django): duplicates, quality, personal data, membership, poison, coreset."""

from requests_app.screening.concept import CorpusIndex, ExpandedItem, expand_concept
from requests_app.screening.dedupe import CombinedIndex, DuplicateIndex, IndexedItem, InMemoryIndex, ItemRef
from requests_app.screening.personal import Requester
from requests_app.screening.pipeline import (
    ItemReport,
    RequestReport,
    RequestToScreen,
    ScreeningConfig,
    ScreeningContext,
    ScreenItem,
    build_context,
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
