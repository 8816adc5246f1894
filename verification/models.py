"""Verification and release: data models (added by the issues that build this stage)."""
