"""Structured JSON logs carry the request id."""

from __future__ import annotations

import io
import json
import logging

from django.conf import settings

from suite.observability import request_id_var


def test_log_lines_are_json_with_request_id():
    stream = io.StringIO()
    config = settings.LOGGING
    formatter_config = dict(config["formatters"]["json"])
    factory = formatter_config.pop("()")
    from django.utils.module_loading import import_string

    handler = logging.StreamHandler(stream)
    handler.setFormatter(import_string(factory)(**formatter_config))
    handler.addFilter(import_string(config["filters"]["request_id"]["()"])())
    logger = logging.getLogger("communs.test.logging")
    logger.addHandler(handler)
    logger.propagate = False
    token = request_id_var.set("req-42")
    try:
        logger.warning("something happened", extra={"document_id": "d1"})
    finally:
        request_id_var.reset(token)
        logger.removeHandler(handler)
    line = json.loads(stream.getvalue())
    assert line["message"] == "something happened"
    assert line["level"] == "WARNING" and line["logger"] == "communs.test.logging"
    assert line["request_id"] == "req-42" and line["document_id"] == "d1"
    assert "time" in line
