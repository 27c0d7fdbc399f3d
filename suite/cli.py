"""The ``suite`` command.

Every sub-command works on the zero-config default (embedded engines under
``SUITE_DATA_DIR``, started or joined on demand) as well as on configured services.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

STARTED_AT = time.perf_counter()


def _setup(*, need_s3: bool = False, quiet: bool = True) -> Any:
    """Start/join embedded engines if needed, then load Django."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "suite.settings")
    from suite.embedded import ensure_engines

    engines = ensure_engines(need_s3=need_s3, quiet=quiet)
    import django
    from django.core.exceptions import ImproperlyConfigured

    try:
        django.setup()
    except ImproperlyConfigured as exc:
        print(f"suite: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    return engines


def _migrate(verbosity: int = 0) -> None:
    from django.core.management import call_command

    from suite.database_probe import DatabaseUnreachable, probe_database

    try:
        probe_database()
    except DatabaseUnreachable as exc:
        _fail(str(exc))
    call_command("migrate", interactive=False, verbosity=verbosity)


def _fail(message: str, code: int = 1) -> NoReturn:
    print(f"suite: {message}", file=sys.stderr)
    raise SystemExit(code)


def _run_service(call: Callable[[], Any]) -> Any:
    from suite.errors import SuiteError

    try:
        return call()
    except SuiteError as exc:
        details = f" {exc.details}" if exc.details else ""
        _fail(f"{exc.message}{details}")


# --- serve ---------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> None:
    engines = _setup(need_s3=True, quiet=False)
    from django.conf import settings

    if not args.no_migrate:
        started = time.perf_counter()
        _migrate()
        print(f"[suite] database migrated in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    import uvicorn

    from suite.http_protocol import SuiteHttpToolsProtocol
    from suite.realtime.compression import websocket_protocol
    from suite.scheduler import InProcessScheduler

    scheduler = None
    if settings.CELERY_TASK_ALWAYS_EAGER:
        scheduler = InProcessScheduler()
        scheduler.start()
    layer = "Redis" if settings.REDIS_URL else "in-memory"
    tasks = "in-process" if settings.CELERY_TASK_ALWAYS_EAGER else f"Celery via {settings.CELERY_BROKER_URL.split('@')[-1]}"
    base = f"http://{args.host}:{args.port}"
    print(
        f"[suite] Communs ({settings.SUITE_MODE}) apps: {', '.join(settings.SUITE_PRODUCTS) or 'none'}; "
        f"channel layer: {layer}; tasks: {tasks}\n"
        f"[suite] serving HTTP and websockets on {base} (API docs: {base}/api/v1/docs, "
        f"ready in {time.perf_counter() - STARTED_AT:.1f} s); Ctrl-C stops everything started here",
        file=sys.stderr,
        flush=True,
    )
    config = uvicorn.Config(
        "suite.asgi:application",
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
        proxy_headers=settings.SECURE_PROXY_SSL_HEADER is not None,
        http=SuiteHttpToolsProtocol,  # URL limit and parse errors in the uniform error shape
        ws=websocket_protocol(deflate=settings.WS_PER_MESSAGE_DEFLATE, min_bytes=settings.WS_DEFLATE_MIN_BYTES),
        ws_max_size=16 * 1024 * 1024,
        lifespan="off",
    )
    server = uvicorn.Server(config)
    # uvicorn handles SIGTERM gracefully, then re-raises it with the previous handler: make
    # that handler a normal exit so the embedded engines are stopped below (a container stop
    # or `kill` must not leave an orphaned PostgreSQL or SeaweedFS behind).
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    try:
        server.run()
    except KeyboardInterrupt:
        pass  # uvicorn re-raises the Ctrl-C it handled; stopping is the expected outcome
    finally:
        if scheduler is not None:
            scheduler.stop()
        engines.stop()
        print("[suite] stopped", file=sys.stderr)


# --- worker / beat -------------------------------------------------------------------------


def cmd_worker(args: argparse.Namespace) -> None:
    _setup(need_s3=True)
    from suite.celery import app

    app.worker_main(["worker", f"--loglevel={args.loglevel}", f"--concurrency={args.concurrency}", *args.celery_args])


def cmd_beat(args: argparse.Namespace) -> None:
    _setup()
    from suite.celery import app

    app.start(["beat", f"--loglevel={args.loglevel}", *args.celery_args])


# --- database and accounts -----------------------------------------------------------------


def cmd_migrate(args: argparse.Namespace) -> None:
    _setup()
    _migrate(verbosity=1)


def cmd_manage(args: argparse.Namespace) -> None:
    """Any Django management command of the enabled apps (e.g. ``drive_quota``)."""
    _setup()
    from django.core.management import execute_from_command_line

    execute_from_command_line(["suite manage", *args.django_args])


def cmd_demo(args: argparse.Namespace) -> None:
    _setup()
    _migrate()
    from django.conf import settings

    from suite.identity.models import Team, User
    from suite.identity.services import team_create, user_create

    if not settings.SUITE_LOCAL_ACCOUNTS:
        _fail("local accounts are disabled (SUITE_LOCAL_ACCOUNTS=false); the demo user needs one")
    email = args.email
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        user = _run_service(lambda: user_create(email=email, full_name="Demo User", password=args.password))
        action = "created"
    else:
        user.set_password(args.password)
        user.save(update_fields=["password"])
        action = "reset the password of"
    if not Team.objects.filter(memberships__user=user).exists():
        team_create(actor=user, name="Demo team")
    print(f"{action} demo user {email} / {args.password}")
    print("sign in: POST /auth/login/ {\"email\", \"password\"}, or create an API token with:")
    print(f"  suite token create --user {email}")


def cmd_user_create(args: argparse.Namespace) -> None:
    _setup()
    from suite.identity.services import user_create

    user = _run_service(
        lambda: user_create(
            email=args.email, full_name=args.name or "", password=args.password,
            is_admin=args.admin, is_bot=args.bot,
        )
    )
    print(user.pk)


def _user_by_email(email: str) -> Any:
    from suite.identity.models import User

    user = User.objects.filter(email__iexact=email.strip()).first()
    if user is None:
        _fail(f"no user with email {email}")
    return user


def cmd_token_create(args: argparse.Namespace) -> None:
    _setup()
    from suite.identity.tokens import token_create

    user = _user_by_email(args.user)
    _token, raw = _run_service(
        lambda: token_create(
            actor=None, user=user, name=args.name, scopes=args.scope or [], expires_in_days=args.expires
        )
    )
    print(raw)  # only the token on stdout, for scripts


def cmd_token_revoke(args: argparse.Namespace) -> None:
    _setup()
    from suite.identity.models import ApiToken
    from suite.identity.tokens import TOKEN_PREFIX, token_revoke

    value = args.token.strip()
    if value.startswith(TOKEN_PREFIX):
        value = value[len(TOKEN_PREFIX) :].split("_", 1)[0]
    token = ApiToken.objects.filter(prefix=value).first()
    if token is None:
        import uuid

        try:
            token = ApiToken.objects.filter(pk=uuid.UUID(value)).first()
        except ValueError:
            token = None
    if token is None:
        _fail(f"no token with id or prefix {args.token}")
    token_revoke(actor=None, token_id=token.pk)
    print(f"revoked {token.name} ({token.prefix})")


def cmd_token_list(args: argparse.Namespace) -> None:
    _setup()
    from suite.identity.models import ApiToken

    user = _user_by_email(args.user)
    for token in ApiToken.objects.filter(user=user).order_by("-created_at"):
        state = "revoked" if token.revoked_at else ("active" if token.is_active else "expired")
        print(f"{token.id}  {token.prefix}  {state:8}  {','.join(token.scopes) or '*':20}  {token.name}")


# --- check ---------------------------------------------------------------------------------


def cmd_check(args: argparse.Namespace) -> None:
    from suite.conf import ConfigError, Env, enabled_products, production_notes, production_problems

    env = Env()
    problems: list[str] = []
    notes: list[str] = []
    try:
        mode = env.choice("SUITE_MODE", ("development", "production"), "development")
        enabled_products(env)
        if mode == "production":
            problems.extend(production_problems(env))
            notes.extend(production_notes(env))
    except ConfigError as exc:
        problems.append(str(exc))
        mode = "?"
    if not problems:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "suite.settings")
        import django
        from django.core.exceptions import ImproperlyConfigured

        try:
            django.setup()
            from django.core.management import call_command

            call_command("check", deploy=mode == "production", fail_level="ERROR", verbosity=0)
        except ImproperlyConfigured as exc:
            problems.append(str(exc))
        except Exception as exc:  # noqa: BLE001 -- Django's SystemCheckError and friends
            problems.append(str(exc))
    for note in notes:
        print(f"note: {note}")
    if problems:
        print(f"{len(problems)} configuration problem(s) (SUITE_MODE={mode}):")
        for problem in problems:
            print(f"  - {problem}")
        raise SystemExit(1)
    print(f"configuration OK (SUITE_MODE={mode})")


# --- parser --------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="suite",
        description="Communs: collaborative office suite backend. With no configuration, "
        "commands use embedded PostgreSQL and S3 under SUITE_DATA_DIR (default ./var).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="serve HTTP and websockets (starts embedded engines if unconfigured)")
    serve.add_argument("--host", default=os.environ.get("SUITE_HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("SUITE_PORT", "8000")))
    serve.add_argument("--no-migrate", action="store_true", help="do not apply migrations at start")
    serve.set_defaults(func=cmd_serve)

    worker = commands.add_parser("worker", help="run a Celery worker (needs REDIS_URL)")
    worker.add_argument("--loglevel", default="INFO")
    worker.add_argument("--concurrency", type=int, default=2)
    worker.add_argument("celery_args", nargs=argparse.REMAINDER, help="extra arguments for celery")
    worker.set_defaults(func=cmd_worker)

    beat = commands.add_parser("beat", help="run the Celery beat scheduler (needs REDIS_URL)")
    beat.add_argument("--loglevel", default="INFO")
    beat.add_argument("celery_args", nargs=argparse.REMAINDER, help="extra arguments for celery")
    beat.set_defaults(func=cmd_beat)

    migrate = commands.add_parser("migrate", help="apply database migrations")
    migrate.set_defaults(func=cmd_migrate)

    demo = commands.add_parser("demo", help="create a demo user (local accounts must be enabled)")
    demo.add_argument("--email", default="demo@communs.localhost")
    demo.add_argument("--password", default="demo-communs")
    demo.set_defaults(func=cmd_demo)

    user = commands.add_parser("user", help="manage users").add_subparsers(dest="user_command", required=True, metavar="ACTION")
    user_create = user.add_parser("create", help="create a user; prints its id")
    user_create.add_argument("--email", required=True)
    user_create.add_argument("--name", default="")
    user_create.add_argument("--password", default=None, help="only when local accounts are enabled")
    user_create.add_argument("--admin", action="store_true", help="staff and superuser")
    user_create.add_argument("--bot", action="store_true", help="an integration account (no login, API tokens only)")
    user_create.set_defaults(func=cmd_user_create)

    token = commands.add_parser("token", help="manage API tokens").add_subparsers(dest="token_command", required=True, metavar="ACTION")
    token_create = token.add_parser("create", help="create an API token; prints only the token")
    token_create.add_argument("--user", required=True, metavar="EMAIL")
    token_create.add_argument("--scope", action="append", metavar="S", help="repeatable; none = all of the user's rights")
    token_create.add_argument("--expires", type=int, default=None, metavar="DAYS")
    token_create.add_argument("--name", default="cli")
    token_create.set_defaults(func=cmd_token_create)
    token_revoke = token.add_parser("revoke", help="revoke a token (give the token, its prefix or its id)")
    token_revoke.add_argument("token")
    token_revoke.set_defaults(func=cmd_token_revoke)
    token_list = token.add_parser("list", help="list a user's tokens")
    token_list.add_argument("--user", required=True, metavar="EMAIL")
    token_list.set_defaults(func=cmd_token_list)

    manage = commands.add_parser("manage", help="run a management command of the enabled apps (e.g. drive_quota)")
    manage.add_argument("django_args", nargs=argparse.REMAINDER, help="the command and its arguments")
    manage.set_defaults(func=cmd_manage)

    check = commands.add_parser("check", help="print configuration problems (exit 1 if any)")
    check.set_defaults(func=cmd_check)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
