"""Screening of forget requests (no Django): duplicates, quality, personal data, membership, poison, coreset."""

from requests_app.screening.concept import CorpusIndex, ExpandedItem, expand_concept
from requests_app.screening.dedupe import DuplicateIndex, IndexedItem, InMemoryIndex, ItemRef
from requests_app.screening.personal import Requester
from requests_app.screening.pipeline import (
    ItemReport,
    RequestReport,
    ScreeningConfig,
    ScreeningContext,
    ScreenItem,
    build_context,
    screen,
)

__all__ = [
    "CorpusIndex",
    "DuplicateIndex",
    "ExpandedItem",
    "IndexedItem",
    "InMemoryIndex",
    "ItemRef",
    "ItemReport",
    "RequestReport",
    "Requester",
    "ScreenItem",
    "ScreeningConfig",
    "ScreeningContext",
    "build_context",
    "expand_concept",
    "screen",
]
