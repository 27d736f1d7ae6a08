"""The JSON API (django-ninja): OpenAPI at /api/openapi.json, docs at /api/docs."""

from .main import api

__all__ = ["api"]
