"""Versioned public API (/api/v1/)."""

urlpatterns: list = []
