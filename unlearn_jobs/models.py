"""Unlearning jobs: data models (added by the issues that build this stage)."""
