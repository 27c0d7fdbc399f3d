"""Configuration from the environment, secrets from files, refusal of insecure production."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from suite.conf import ConfigError, Env, enabled_products, production_problems

SECURE_PRODUCTION = {
    "SUITE_MODE": "production",
    "SECRET_KEY": "k" * 20 + "Zq8!vR2#pL9@wX4$mN7^bT1&",
    "ALLOWED_HOSTS": "communs.example.gouv.fr",
    "DATABASE_URL": "postgresql://communs@db.internal:5432/communs",
    "REDIS_URL": "redis://redis.internal:6379/0",
    "S3_ENDPOINT_URL": "https://s3.internal",
    "S3_ACCESS_KEY_ID": "communs",
    "S3_SECRET_ACCESS_KEY": "a-long-random-secret-value",
}


def load_settings(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Import suite.settings in a fresh interpreter with exactly ``env`` (plus PATH)."""
    clean = {"PATH": os.environ["PATH"], "SUITE_DATA_DIR": os.environ.get("SUITE_DATA_DIR", "/tmp"), **env}
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='suite.settings';"
        "from django.conf import settings; print(settings.SUITE_PRODUCTS, settings.DEBUG, settings.SUITE_LOCAL_ACCOUNTS)"
    )
    return subprocess.run([sys.executable, "-c", code], env=clean, capture_output=True, text=True, timeout=60)


def test_development_defaults_load():
    result = load_settings({})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['docs', 'drive', 'chat', 'mail'] False True"


def test_secure_production_loads_and_disables_local_accounts():
    result = load_settings(SECURE_PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("False False")


@pytest.mark.parametrize(
    ("override", "variable"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY"),
        ({"SECRET_KEY": "django-insecure-abcdefghijklmnopqrstuvwxyz0123456789"}, "SECRET_KEY"),
        ({"ALLOWED_HOSTS": "*"}, "ALLOWED_HOSTS"),
        ({"DEBUG": "true"}, "DEBUG"),
        ({"DATABASE_URL": ""}, "DATABASE_URL"),
        ({"S3_ENDPOINT_URL": ""}, "S3_ENDPOINT_URL"),
        ({"REDIS_URL": ""}, "REDIS_URL"),
    ],
)
def test_production_refuses_insecure_defaults_naming_the_variable(override, variable):
    env = {**SECURE_PRODUCTION, **override}
    env = {k: v for k, v in env.items() if v != ""}
    result = load_settings(env)
    assert result.returncode != 0
    assert "Refusing to start in production mode" in result.stderr
    assert f"- {variable}:" in result.stderr


def test_unknown_app_is_refused_naming_the_variable():
    result = load_settings({"SUITE_APPS": "docs,spreadsheet"})
    assert result.returncode != 0
    assert "SUITE_APPS: unknown product(s) spreadsheet" in result.stderr


def test_suite_apps_selects_products():
    result = load_settings({"SUITE_APPS": "docs, drive"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("['docs', 'drive']")


def test_suite_apps_decides_installed_apps_and_migrations():
    code = (
        "import os, django; os.environ['DJANGO_SETTINGS_MODULE']='suite.settings'; django.setup();"
        "from django.apps import apps; from django.conf import settings;"
        "print(sorted(a.label for a in apps.get_app_configs() if a.label.endswith(('_app', '_bridge'))));"
        "print(settings.PRODUCT_MODULES)"
    )
    env = {"PATH": os.environ["PATH"], "SUITE_DATA_DIR": os.environ.get("SUITE_DATA_DIR", "/tmp"),
           "SUITE_APPS": "drive,mail"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["['drive_app', 'mail_bridge']", "['drive_app', 'mail_bridge']"]


def test_secret_from_file(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("from-a-file-0123456789-0123456789-0123456789\n")
    env = Env({"SECRET_KEY_FILE": str(secret)})
    assert env.str("SECRET_KEY") == "from-a-file-0123456789-0123456789-0123456789"
    assert production_problems(Env({**SECURE_PRODUCTION, "SECRET_KEY": "", "SECRET_KEY_FILE": str(secret)})) == []


def test_secret_file_that_cannot_be_read_names_the_variable(tmp_path):
    with pytest.raises(ConfigError, match="S3_SECRET_ACCESS_KEY_FILE"):
        Env({"S3_SECRET_ACCESS_KEY_FILE": str(tmp_path / "missing")}).str("S3_SECRET_ACCESS_KEY")


def test_direct_value_wins_over_file(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("file")
    assert Env({"SECRET_KEY": "direct", "SECRET_KEY_FILE": str(secret)}).str("SECRET_KEY") == "direct"


@pytest.mark.parametrize(
    ("method", "value", "expected"),
    [
        ("bool", "yes", True),
        ("bool", "0", False),
        ("int", "42", 42),
        ("list", "a, b,,c", ["a", "b", "c"]),
    ],
)
def test_typed_readers(method, value, expected):
    assert getattr(Env({"X": value}), method)("X", *(() if method == "list" else (None,) if method == "bool" else (0,))) == expected


@pytest.mark.parametrize(("method", "value"), [("bool", "maybe"), ("int", "ten")])
def test_typed_readers_reject_garbage_naming_the_variable(method, value):
    with pytest.raises(ConfigError, match="^X:"):
        getattr(Env({"X": value}), method)("X", False if method == "bool" else 0)


def test_enabled_products_default_is_all():
    assert enabled_products(Env({})) == ["docs", "drive", "chat", "mail"]


def test_production_secure_config_has_no_problems():
    assert production_problems(Env(SECURE_PRODUCTION)) == []


def connection_params(database_url: str, **extra: str) -> dict:
    """What Django hands to psycopg for ``database_url``, read in a fresh interpreter."""
    code = (
        "import json, os, django; os.environ['DJANGO_SETTINGS_MODULE']='suite.settings'; django.setup();"
        "from django.db import connection; params = connection.get_connection_params();"
        "print(json.dumps({k: v for k, v in params.items() if isinstance(v, (str, int))}))"
    )
    env = {"PATH": os.environ["PATH"], "SUITE_DATA_DIR": os.environ.get("SUITE_DATA_DIR", "/tmp"),
           "DATABASE_URL": database_url, **extra}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("pool", ["true", "false"])
def test_database_url_tls_options_reach_psycopg(pool):
    params = connection_params(
        "postgresql://communs:pw@db.internal:5432/communs?sslmode=verify-full"
        "&sslrootcert=/etc/communs/ca.pem&sslcert=/etc/communs/client.pem&connect_timeout=5",
        DATABASE_POOL=pool,
    )
    assert params["sslmode"] == "verify-full"
    assert params["sslrootcert"] == "/etc/communs/ca.pem"
    assert params["sslcert"] == "/etc/communs/client.pem"
    assert params["connect_timeout"] == 5
    assert params["host"] == "db.internal" and params["port"] == 5432 and params["dbname"] == "communs"
    assert params["application_name"] == "communs"  # ours, added to the URL's options


def test_database_url_host_parameter_wins_as_in_libpq():
    assert connection_params("postgresql://communs@/communs?host=/run/postgresql")["host"] == "/run/postgresql"
    params = connection_params("postgresql://communs@db.internal:5432/communs?host=/run/postgresql&port=6432")
    assert (params["host"], str(params["port"])) == ("/run/postgresql", "6432")


def test_database_url_application_name_is_kept():
    assert connection_params("postgresql://communs@db/communs?application_name=web-1")["application_name"] == "web-1"


@pytest.mark.parametrize("value", ["30/m", "0/s", "100/6h", "5/d"])
def test_rate_reader_accepts_django_ratelimit_rates(value):
    assert Env({"X_RATE": value}).rate("X_RATE", "1/s") == value


@pytest.mark.parametrize("value", ["lots", "30", "30/week", "-1/m", "30/0m", "/m"])
def test_rate_reader_rejects_garbage_naming_the_variable(value):
    with pytest.raises(ConfigError, match="^X_RATE: expected a rate"):
        Env({"X_RATE": value}).rate("X_RATE", "1/s")


def test_a_bad_invitation_rate_stops_the_settings_naming_the_variable():
    result = load_settings({"DOCS_INVITATION_RATE": "many"})
    assert result.returncode != 0
    assert "DOCS_INVITATION_RATE: expected a rate" in result.stderr
