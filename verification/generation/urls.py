"""The generation endpoint, mounted at /api/v1/."""

from django.urls import path

from verification.generation import api

api_urlpatterns = [path("generate", api.GenerateApi.as_view(), name="api-generate")]
