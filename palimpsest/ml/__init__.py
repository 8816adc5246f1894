"""Shared model primitives (no Django): load, batch, score, generate, hidden states, ROUGE-L."""

from palimpsest.ml.batching import EncodedBatch, EncodedItem, collate, encode_pairs, encode_texts
from palimpsest.ml.generation import greedy_continue, sample_continue
from palimpsest.ml.hidden import last_token_hidden
from palimpsest.ml.loading import LoadedModel, load_causal_lm, wrap_model
from palimpsest.ml.membership import MembershipScores, membership_scores
from palimpsest.ml.scoring import TokenStats, sequence_nll, token_logprobs, token_statistics
from palimpsest.ml.text import RougeL, rouge_l

__all__ = [
    "EncodedBatch",
    "EncodedItem",
    "LoadedModel",
    "MembershipScores",
    "RougeL",
    "TokenStats",
    "collate",
    "encode_pairs",
    "encode_texts",
    "greedy_continue",
    "last_token_hidden",
    "load_causal_lm",
    "membership_scores",
    "rouge_l",
    "sample_continue",
    "sequence_nll",
    "token_logprobs",
    "token_statistics",
    "wrap_model",
]
