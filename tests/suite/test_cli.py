"""The ``suite`` command against the test database (a real subprocess each time)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from urllib.parse import quote

import pytest
from django.db import connection

from suite.identity.models import ApiToken, User
from suite.identity.tokens import authenticate_api_token

COMMANDS = [
    ["--help"], ["serve", "--help"], ["worker", "--help"], ["beat", "--help"], ["migrate", "--help"],
    ["demo", "--help"], ["user", "create", "--help"], ["token", "create", "--help"],
    ["token", "revoke", "--help"], ["token", "list", "--help"], ["check", "--help"],
]


def suite(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "suite.cli", *args], capture_output=True, text=True, timeout=120,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def test_database_env(transactional_db):
    """Environment pointing a subprocess at the test database."""
    params = connection.settings_dict
    host = params["HOST"] or "localhost"
    user = params["USER"] or "postgres"
    port = params["PORT"] or "5432"
    return {"DATABASE_URL": f"postgresql://{user}@{quote(host, safe='')}:{port}/{params['NAME']}"}


@pytest.mark.parametrize("args", COMMANDS, ids=lambda args: " ".join(args))
def test_every_command_has_help(args):
    result = suite(*args)
    assert result.returncode == 0, result.stderr
    assert "usage: suite" in result.stdout


def test_user_and_token_lifecycle(test_database_env):
    created = suite("user", "create", "--email", "Agent.CLI@example.gouv.fr", "--name", "Agent CLI", env=test_database_env)
    assert created.returncode == 0, created.stderr
    user = User.objects.get(email="agent.cli@example.gouv.fr")
    assert created.stdout.strip() == str(user.pk)

    token = suite("token", "create", "--user", "agent.cli@example.gouv.fr", "--scope", "docs", "--scope", "drive:read",
                  "--expires", "3", env=test_database_env)
    assert token.returncode == 0, token.stderr
    raw = token.stdout.strip()
    assert raw.count("\n") == 0 and raw.startswith("cmn_")  # only the token on stdout
    stored = authenticate_api_token(raw)
    assert stored is not None and stored.user == user and stored.scopes == ["docs", "drive:read"]

    listed = suite("token", "list", "--user", "agent.cli@example.gouv.fr", env=test_database_env)
    assert stored.prefix in listed.stdout and "active" in listed.stdout

    revoked = suite("token", "revoke", stored.prefix, env=test_database_env)
    assert revoked.returncode == 0, revoked.stderr
    assert authenticate_api_token(raw) is None
    assert ApiToken.objects.get(pk=stored.pk).revoked_at is not None


def test_cli_errors_are_clear(test_database_env):
    bad_email = suite("user", "create", "--email", "not-an-email", env=test_database_env)
    assert bad_email.returncode == 1 and "valid email" in bad_email.stderr
    unknown = suite("token", "create", "--user", "nobody@example.gouv.fr", env=test_database_env)
    assert unknown.returncode == 1 and "no user with email nobody@example.gouv.fr" in unknown.stderr
    suite("user", "create", "--email", "scoped@example.gouv.fr", env=test_database_env)
    bad_scope = suite("token", "create", "--user", "scoped@example.gouv.fr", "--scope", "everything", env=test_database_env)
    assert bad_scope.returncode == 1 and "Unknown scope" in bad_scope.stderr
    assert bad_scope.stdout == ""
    missing = suite("token", "revoke", "cmn_00000000_x", env=test_database_env)
    assert missing.returncode == 1 and "no token" in missing.stderr


def test_user_create_admin_and_bot(test_database_env):
    assert suite("user", "create", "--email", "boss@example.gouv.fr", "--admin", "--password", "s3cret-pass",
                 env=test_database_env).returncode == 0
    assert suite("user", "create", "--email", "bot@example.gouv.fr", "--bot", env=test_database_env).returncode == 0
    boss = User.objects.get(email="boss@example.gouv.fr")
    assert boss.is_staff and boss.is_superuser and boss.check_password("s3cret-pass")
    assert User.objects.get(email="bot@example.gouv.fr").is_bot
    again = suite("user", "create", "--email", "BOSS@example.gouv.fr", env=test_database_env)
    assert again.returncode == 1 and "already exists" in again.stderr


def test_demo_creates_a_user_who_can_log_in(test_database_env, client):
    result = suite("demo", "--email", "demo@example.gouv.fr", "--password", "demo-pass-123", env=test_database_env)
    assert result.returncode == 0, result.stderr
    assert client.login(username="demo@example.gouv.fr", password="demo-pass-123")


def test_check_reports_production_problems():
    result = suite("check", env={"SUITE_MODE": "production", "SECRET_KEY": "", "DATABASE_URL": ""})
    assert result.returncode == 1
    assert "SECRET_KEY:" in result.stdout and "ALLOWED_HOSTS:" in result.stdout


def test_check_ok_in_development(test_database_env):
    result = suite("check", env=test_database_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "configuration OK (SUITE_MODE=development)" in result.stdout


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_migrate_names_why_it_cannot_connect(test_database_env):
    url = test_database_env["DATABASE_URL"]
    closed = url.replace(url.split("@", 1)[1].split("/", 1)[0], f"127.0.0.1:{closed_port()}")
    started = time.monotonic()
    refused = suite("migrate", env={"DATABASE_URL": closed})
    assert refused.returncode == 1
    assert "cannot connect to the database" in refused.stderr and "connection refused" in refused.stderr
    assert "Traceback" not in refused.stderr and "couldn't get a connection" not in refused.stderr
    assert time.monotonic() - started < 9  # said at once, not after the pool's 10 s timeout

    missing = suite("migrate", env={"DATABASE_URL": url.rsplit("/", 1)[0] + "/communs_no_such_db"})
    assert missing.returncode == 1
    assert "the database does not exist" in missing.stderr and "communs_no_such_db" in missing.stderr


def test_migrate_honours_tls_required_by_the_url(test_database_env):
    """``sslmode=verify-full`` with a CA file that does not exist can never connect: if it did,
    the URL's TLS options were dropped on the way to psycopg."""
    url = test_database_env["DATABASE_URL"] + "?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem"
    result = suite("migrate", env={"DATABASE_URL": url})
    assert result.returncode == 1, result.stdout
    assert "TLS failed" in result.stderr


def test_check_says_metrics_are_off_in_production_without_a_token():
    from tests.suite.test_settings import SECURE_PRODUCTION

    result = suite("check", env=SECURE_PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "note: METRICS_TOKEN: unset, so /metrics answers 404 in production" in result.stdout
    assert "configuration OK (SUITE_MODE=production)" in result.stdout
    with_token = suite("check", env={**SECURE_PRODUCTION, "METRICS_TOKEN": "a-long-random-metrics-token"})
    assert with_token.returncode == 0 and "METRICS_TOKEN" not in with_token.stdout
