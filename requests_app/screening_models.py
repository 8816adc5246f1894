"""Stored screening results (per request and per item); filled by the screening stage."""
