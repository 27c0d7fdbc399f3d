"""Reading configuration from the environment (12-factor).

Every setting of Communs comes from an environment variable; this module holds the typed
readers used by ``suite/settings.py`` and the list of production problems that ``suite
check`` prints and that stop the process in production mode. A secret ``NAME`` may also be
given as ``NAME_FILE`` (a path whose content is the value, as Docker/Kubernetes secrets are
mounted), so it never has to appear in the process environment.
"""

from __future__ import annotations

import builtins
import os
import re
from collections.abc import Mapping
from pathlib import Path

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}

#: Products that ``SUITE_APPS`` can enable, mapped to their Django app module.
PRODUCT_APPS = {
    "docs": "docs_app",
    "drive": "drive_app",
    "chat": "chat_app",
    "mail": "mail_bridge",
}

#: Secret-bearing variables that may be read from ``<NAME>_FILE``.
SECRET_VARIABLES = (
    "SECRET_KEY",
    "DATABASE_URL",
    "REDIS_URL",
    "S3_ACCESS_KEY_ID",
    "S3_SECRET_ACCESS_KEY",
    "OIDC_RP_CLIENT_SECRET",
    "EMAIL_HOST_PASSWORD",
    "METRICS_TOKEN",
)

INSECURE_SECRET_PREFIXES = ("django-insecure", "changeme", "change-me", "secret")

#: A rate limit: a count, then a period in seconds, minutes, hours or days (optionally
#: multiplied: ``100/6h``). The count may be 0 (the action is refused).
RATE_PATTERN = re.compile(r"\d{1,9}/(?:[1-9]\d{0,5})?[smhd]")


class ConfigError(ValueError):
    """A configuration value that cannot be used; the message names the variable."""


class Env:
    """Typed access to a mapping of environment variables (``os.environ`` by default)."""

    def __init__(self, environ: Mapping[str, str] | None = None):
        self.environ = os.environ if environ is None else environ

    def raw(self, name: str) -> str | None:
        value = self.environ.get(name)
        if not value and name in SECRET_VARIABLES:
            path = self.environ.get(f"{name}_FILE")
            if path:
                try:
                    value = Path(path).read_text(encoding="utf-8").strip()
                except OSError as exc:
                    raise ConfigError(f"{name}_FILE: cannot read {path!r} ({exc.strerror})") from exc
        return value

    def is_set(self, name: str) -> bool:
        value = self.raw(name)
        return value is not None and value != ""

    def str(self, name: builtins.str, default: builtins.str = "") -> builtins.str:
        value = self.raw(name)
        return default if value is None or value == "" else value

    def bool(self, name: builtins.str, default: builtins.bool = False) -> builtins.bool:
        value = self.raw(name)
        if value is None:
            return default
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ConfigError(f"{name}: expected a boolean (true/false), got {value!r}")

    def int(self, name: builtins.str, default: builtins.int, *, minimum: builtins.int | None = None) -> builtins.int:
        value = self.raw(name)
        if value is None or value.strip() == "":
            return default
        try:
            number = int(value)
        except ValueError:
            raise ConfigError(f"{name}: expected an integer, got {value!r}") from None
        if minimum is not None and number < minimum:
            raise ConfigError(f"{name}: must be at least {minimum}, got {number}")
        return number

    def list(self, name: builtins.str, default: builtins.list[builtins.str] | None = None) -> builtins.list[builtins.str]:
        value = self.raw(name)
        if value is None:
            return list(default or [])
        return [item.strip() for item in value.split(",") if item.strip()]

    def rate(self, name: builtins.str, default: builtins.str) -> builtins.str:
        """A rate limit, ``<count>/<period>`` with the period in s, m, h or d, optionally
        multiplied (``30/m``, ``100/6h``), as django-ratelimit reads it."""
        value = self.str(name, default).strip()
        if not RATE_PATTERN.fullmatch(value):
            raise ConfigError(f"{name}: expected a rate such as 30/m or 100/6h, got {value!r}")
        return value

    def choice(self, name: builtins.str, choices: tuple[builtins.str, ...], default: builtins.str) -> builtins.str:
        value = self.str(name, default).strip().lower()
        if value not in choices:
            raise ConfigError(f"{name}: must be one of {', '.join(choices)}, got {value!r}")
        return value


def enabled_products(env: Env) -> list[str]:
    """The products named by ``SUITE_APPS`` (default: all), validated."""
    names = env.list("SUITE_APPS", list(PRODUCT_APPS))
    unknown = [name for name in names if name not in PRODUCT_APPS]
    if unknown:
        raise ConfigError(
            f"SUITE_APPS: unknown product(s) {', '.join(unknown)}; "
            f"choose among {', '.join(PRODUCT_APPS)}"
        )
    return names


def production_problems(env: Env) -> list[str]:
    """Insecure or missing settings that forbid running with ``SUITE_MODE=production``.

    Each message starts with the variable it is about, so an operator knows what to set.
    """
    problems: list[str] = []
    secret = env.str("SECRET_KEY")
    if not secret:
        problems.append("SECRET_KEY: must be set in production (50+ random characters)")
    elif len(secret) < 32 or secret.lower().startswith(INSECURE_SECRET_PREFIXES):
        problems.append("SECRET_KEY: too short or a well-known insecure value; use 50+ random characters")
    if env.bool("DEBUG", False):
        problems.append("DEBUG: must be false in production")
    hosts = env.list("ALLOWED_HOSTS")
    if not hosts:
        problems.append("ALLOWED_HOSTS: must list the host names the server answers to")
    elif "*" in hosts:
        problems.append("ALLOWED_HOSTS: '*' is not allowed in production")
    if not env.is_set("DATABASE_URL"):
        problems.append("DATABASE_URL: must point to the production PostgreSQL (no embedded database)")
    for name in ("S3_ENDPOINT_URL", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"):
        if not env.is_set(name):
            problems.append(f"{name}: must be set in production (no embedded S3)")
    if not env.is_set("REDIS_URL"):
        problems.append("REDIS_URL: must be set in production (realtime fan-out and task broker)")
    if env.is_set("OIDC_RP_CLIENT_ID") and not env.is_set("OIDC_RP_CLIENT_SECRET"):
        problems.append("OIDC_RP_CLIENT_SECRET: must be set when OIDC_RP_CLIENT_ID is set")
    if env.str("S3_SECRET_ACCESS_KEY") and env.str("S3_SECRET_ACCESS_KEY").lower() in {
        "minioadmin",
        "password",
        "changeme",
    }:
        problems.append("S3_SECRET_ACCESS_KEY: a well-known default value")
    return problems


def production_notes(env: Env) -> list[str]:
    """What production mode turns off for lack of a setting: not problems (the server runs),
    but ``suite check`` says them so that nobody wonders where a feature went."""
    notes: list[str] = []
    if not env.is_set("METRICS_TOKEN"):
        notes.append(
            "METRICS_TOKEN: unset, so /metrics answers 404 in production; set it and give it "
            "to Prometheus as a bearer token (authorization.credentials_file) to scrape metrics"
        )
    return notes
