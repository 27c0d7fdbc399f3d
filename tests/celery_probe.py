"""An event subscriber run by a real Celery worker in tests: it records what it received in
Redis, where the test can read it."""

from __future__ import annotations

import json
import os

import redis


def record(event) -> None:
    client = redis.Redis.from_url(os.environ["CELERY_PROBE_REDIS_URL"])
    client.rpush("communs-test:celery-probe", json.dumps(event.model_dump(mode="json")))
