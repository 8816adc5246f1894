"""Palimpsest: a forget-request workflow platform for language models.

The Celery app is loaded by `requests_app.apps` (not here), so that the Django-free packages
`palimpsest.ml` and `palimpsest.demo` can be imported without pulling Django in.
"""
