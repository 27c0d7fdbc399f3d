"""A real ``suite worker`` (Celery, Redis broker) runs event subscribers off the web process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid

import pytest
import redis

from suite.access.events import LinkChanged
from suite.celery import app as celery_app
from suite.events import dispatch, subscribe, unsubscribe


@pytest.fixture
def broker_url(settings):
    """The tests' own Redis database, which the test process already uses as its broker."""
    assert celery_app.conf.broker_url == settings.REDIS_URL
    return settings.REDIS_URL


@pytest.fixture
def worker(broker_url, tmp_path):
    env = {**os.environ, "REDIS_URL": broker_url, "CELERY_PROBE_REDIS_URL": broker_url,
           "SUITE_DATA_DIR": str(tmp_path), "S3_ENDPOINT_URL": "http://127.0.0.1:1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "suite.cli", "worker", "--concurrency", "1", "--loglevel", "WARNING"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    yield process
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()


def test_in_task_subscriber_runs_in_a_real_worker(worker, broker_url):
    # given: the web process publishes through the Redis broker instead of running eagerly
    celery_app.conf.task_always_eager = False
    subscribe(LinkChanged.name, "tests.celery_probe.record", in_task=True)
    event = LinkChanged(resource_type="docs_app.document", resource_id=str(uuid.uuid4()),
                        link_reach="public", link_role="reader")
    try:
        # when
        dispatch(event)
        # then: the worker rebuilt the event from JSON and ran the subscriber
        client = redis.Redis.from_url(broker_url)
        deadline = time.monotonic() + 30
        received = None
        while received is None and time.monotonic() < deadline:
            if worker.poll() is not None:
                pytest.fail(f"worker exited: {worker.stdout.read()}")
            received = client.lpop("communs-test:celery-probe")
            time.sleep(0.1)
        assert received is not None, "the worker did not run the subscriber within 30 s"
        payload = json.loads(received)
        assert payload["event_id"] == str(event.event_id)
        assert payload["resource_id"] == event.resource_id and payload["link_reach"] == "public"
    finally:
        unsubscribe(LinkChanged.name, "tests.celery_probe.record")
        celery_app.conf.task_always_eager = True
