"""``/healthz`` (the process answers), ``/readyz`` (its engines answer), ``/metrics``."""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from suite.errors import ErrorCode, error_response


def check_database() -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {}


def check_redis() -> dict[str, Any]:
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    finally:
        client.close()
    return {}


def check_storage() -> dict[str, Any]:
    from suite.storage import get_blob_store

    get_blob_store().check()
    return {"bucket": settings.S3_BUCKET}


def _run(check: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        extra = check()
        status = "ok"
        error = None
    except Exception as exc:  # noqa: BLE001 -- any failure means "not ready", reported below
        extra, status, error = {}, "error", f"{type(exc).__name__}: {exc}"[:300]
    result = {"status": status, "latency_ms": round((time.perf_counter() - started) * 1000, 1), **extra}
    if error:
        result["error"] = error
    return result


@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request: HttpRequest) -> HttpResponse:
    checks: dict[str, Any] = {"database": _run(check_database)}
    checks["redis"] = _run(check_redis) if settings.REDIS_URL else {"status": "not_configured"}
    checks["s3"] = _run(check_storage) if settings.S3_ENDPOINT_URL else {"status": "not_configured"}
    ready = all(check["status"] in ("ok", "not_configured") for check in checks.values())
    if not settings.S3_ENDPOINT_URL and settings.PRODUCTION:
        ready = False
    return JsonResponse({"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503)


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics: with ``METRICS_TOKEN``, for its bearer only; without one, open in
    development and off in production (routes, volumes and error rates are the operator's
    business: like Gitea's metrics, off until a token is configured, never public)."""
    if not settings.METRICS_TOKEN:
        if settings.PRODUCTION:
            return error_response(404, ErrorCode.NOT_FOUND)
    else:
        supplied = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(supplied.encode(), settings.METRICS_TOKEN.encode()):
            return error_response(401, ErrorCode.NOT_AUTHENTICATED)
    return HttpResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)
