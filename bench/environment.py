"""What the benches run on: the repository's paths, the environment shared by the bench
process and the servers it starts, Django in the bench process, and the bench account."""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = Path(__file__).resolve().parent / ".cache"
HOST = "127.0.0.1"
SUITE = str(Path(sys.executable).parent / "suite")
BENCH_EMAIL = "bench-sync@communs.localhost"


def base_env(
    *, database_url: str, redis_url: str, data_dir: Path, s3: dict[str, str]
) -> dict[str, str]:
    """The environment shared by this process (Django in process), its children and the
    servers: same database, Redis database and key prefix, S3 and secret key."""
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        REDIS_KEY_PREFIX=f"communs-bench-{os.getpid()}",
        SUITE_APPS="docs",
        SUITE_DATA_DIR=str(data_dir),
        SECRET_KEY=secrets.token_urlsafe(50),
        LOG_LEVEL="warning",
        DEBUG="false",
        PYTHONPATH=str(ROOT),
        **s3,
    )
    return env


def setup_django(*, migrate: bool) -> None:
    """Django in this process, configured by ``os.environ`` (a :func:`base_env` applied)."""
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "suite.settings"
    import django

    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)


def setup_bench_process(env: dict[str, str], *, reset: Callable[[], None]) -> tuple[Any, str]:
    """This process on the data of ``env`` (a :func:`base_env`): the environment applied,
    its Redis database flushed, its database created if missing, Django set up and the
    database migrated, then ``reset()`` (what the bench empties before it runs). Returns
    the bench account and a new API token of it (:func:`bench_account`)."""
    import redis

    from suite.embedded.engines import ensure_database_at

    os.environ.update(env)
    redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    ensure_database_at(env["DATABASE_URL"])
    setup_django(migrate=True)
    reset()
    return bench_account()


def bench_account() -> tuple[Any, str]:
    """The bench user (created on first use) and a new API token of it."""
    from suite.identity.models import User
    from suite.identity.services import user_create
    from suite.identity.tokens import token_create

    user = User.objects.filter(email=BENCH_EMAIL).first() or user_create(
        email=BENCH_EMAIL, full_name="Bench"
    )
    return user, token_create(actor=None, user=user, name="bench", scopes=[])[1]


# --- command line -----------------------------------------------------------------------------


def comma_ints(text: str) -> list[int]:
    """``"1,8"`` -> ``[1, 8]`` (an argparse ``type``)."""
    return [int(number) for number in text.split(",")]


def bench_parser(
    doc: str, *, database: str, redis_db: int, redis_use: str | None = None
) -> argparse.ArgumentParser:
    """A parser described by the first paragraph of ``doc``, with the options of
    :func:`add_engine_arguments`."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    add_engine_arguments(parser, database=database, redis_db=redis_db, redis_use=redis_use)
    return parser


def add_engine_arguments(
    parser: argparse.ArgumentParser,
    *,
    database: str,
    redis_db: int,
    redis_use: str | None = None,
    database_from_env: bool = True,
) -> None:
    """``--database-url`` (a database of the local PostgreSQL named ``database``; with
    ``database_from_env``, ``$BENCH_DATABASE_URL`` first) and ``--redis-url`` (database
    ``redis_db`` of the local Redis, flushed by the bench; what for: ``redis_use``)."""
    database_url = f"postgresql://postgres@127.0.0.1:5432/{database}"
    if database_from_env:
        database_url = os.environ.get("BENCH_DATABASE_URL", database_url)
    parser.add_argument("--database-url", default=database_url)
    parser.add_argument(
        "--redis-url",
        default=f"redis://127.0.0.1:6379/{redis_db}",
        help=f"{redis_use} (this Redis database is flushed)" if redis_use else None,
    )


def add_run_arguments(parser: argparse.ArgumentParser, *, parts: str, quick: str) -> None:
    """``--parts`` (all of ``parts`` by default), ``--quick`` (what it changes: ``quick``)
    and ``--json``."""
    parser.add_argument("--parts", default=parts, help="which parts to run")
    parser.add_argument("--quick", action="store_true", help=quick)
    parser.add_argument("--json", type=Path, help="also write the raw results here")
