"""The whole API under schemathesis with every check on, against a real ``suite serve``.

Run: ``python bench/api_fuzz.py`` (``--max-examples 20`` for a quick look; ``--help``).

What it does:

1. starts an embedded S3 (SeaweedFS) in a temporary directory and ``suite serve`` with every
   app on a database of its own (``--database-url``, default
   ``postgresql://postgres@127.0.0.1:5432/communs_apifuzz``, created if missing and migrated
   by the server; ``--redis-url``, default ``redis://127.0.0.1:6379/14``, under a key prefix
   of its own: nothing is flushed), tasks in process;
2. creates a user and an API token with the ``suite`` CLI;
3. runs ``schemathesis run <server>/api/v1/openapi.json --checks all`` with that token,
   excluding the one operation that revokes the token the run authenticates with
   (``DELETE /api/v1/tokens/{token_id}``), every phase (examples, coverage, fuzzing,
   stateful), ``--max-examples`` cases per operation and phase; the report (JUnit XML) goes
   to ``--report-dir``;
4. prints schemathesis' summary and exits with its status (0: no failure).

The same checks run in the default test suite on fewer cases, in process
(``tests/suite/test_api_fuzz.py``).

Results, 2026-12-08, 2 cores shared with other jobs, schemathesis 4.32.5, 103 of the 104
operations, every check, every phase:

| run | cases | failures | unhandled errors in the server log | time |
|---|---|---|---|---|
| ``--max-examples 5`` (seed 1), first run | 3,587 | 40 | 0 | 46 s |
| ``--max-examples 50`` (seed 1), final code | 8,473 | 0 | 0 | 300 s |
| ``--max-examples 100 --seed 2``, final code | 12,863 | 0 | 0 | 385 s |

What the runs in between found, each fixed where it came from: statuses the document did
not declare (409 of restores, access requests, multipart and upload ends; 507 of the
quota; 413 of file sizes), schema-valid input refused by rules only the services knew
(names and titles, roles, scopes and time zones, the search minimum, emoji, ticket paths,
content types and digests, part numbers, file sizes, a team or a user for an access, a
size for a file), ``3.0`` refused as an integer and ``"true"`` taken as a boolean (lax
types), and the documents' ``POST .../versions/`` described with the drive's ``VersionIn``
(two components of one name); later runs, with more cases, a 500 (a link expiry at
``+23:30``, an offset PostgreSQL refuses: inputs are now taken in UTC) and ``?q=a&q=b``
read as ``q=b`` (now a 422). The rules that turn on stored state are listed in
``api_fuzz.toml``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import requests
from environment import ROOT, add_engine_arguments, base_env
from processes import Server, suite_command

from suite.embedded.engines import EmbeddedS3, ensure_database_at

CONFIG = Path(__file__).with_suffix(".toml")
#: Revoking the token the run authenticates with would turn every later case into a 401.
EXCLUDED_OPERATIONS = ["suite_identity_api_token_revoke"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_engine_arguments(parser, database="communs_apifuzz", redis_db=14)
    parser.add_argument("--max-examples", type=int, default=50,
                        help="cases per operation and phase (schemathesis --max-examples)")
    parser.add_argument("--workers", default="2", help="schemathesis --workers")
    parser.add_argument("--seed", type=int, default=1, help="schemathesis --seed")
    parser.add_argument("--phases", default="examples,coverage,fuzzing,stateful")
    parser.add_argument("--seeded", type=float, default=0.7,
                        help="how often a path parameter is the id of a seeded object")
    parser.add_argument("--report-dir", type=Path, default=ROOT / "var" / "api-fuzz")
    parser.add_argument("extra", nargs="*", help="more schemathesis options (after --)")
    return parser.parse_args()


def seed(base: str, token: str, other_user_id: str) -> dict[str, list[str]]:
    """Real objects of every kind, made through the API, whose ids the run draws path
    parameters from (most of the time: see :func:`write_config`), so operations get past
    404 to their own rules."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"

    def call(method: str, path: str, body: Any = None, status: int = 201) -> Any:
        response = session.request(method, f"{base}/api/v1{path}", json=body, timeout=60)
        assert response.status_code == status, (method, path, response.status_code, response.text)
        return response.json() if response.content else None

    ids: dict[str, list[str]] = {name: [] for name in (
        "document_id", "thread_id", "comment_id", "invitation_id", "access_id", "version_id",
        "team_id", "user_id", "item_id", "link_id", "token")}
    root = call("POST", "/documents/", {"title": "Rapport annuel"})
    child = call("POST", "/documents/", {"title": "Annexe", "parent": root["id"]})
    ids["document_id"] += [root["id"], child["id"]]
    call("PATCH", f"/documents/{root['id']}/content",
         {"format": "markdown", "content": "# Rapport\n\nLe budget **2026**."}, status=200)
    thread = call("POST", f"/documents/{root['id']}/threads/", {"anchor": "", "body": "À relire"})
    ids["thread_id"].append(thread["id"])
    ids["comment_id"].append(thread["comments"][0]["id"])
    ids["invitation_id"].append(call("POST", f"/documents/{root['id']}/invitations/",
                                     {"email": "invite@communs.example", "role": "reader"})["id"])
    ids["access_id"].append(str(call("POST", f"/documents/{root['id']}/accesses/",
                                     {"user": other_user_id, "role": "editor"})["id"]))
    ids["version_id"].append(call("POST", f"/documents/{root['id']}/versions/", {"name": "v1"})["id"])
    team = call("POST", "/teams/", {"name": "Équipe budget"})
    ids["team_id"].append(team["id"])
    call("POST", f"/teams/{team['id']}/members/", {"user": other_user_id})
    ids["user_id"].append(other_user_id)
    folder = call("POST", "/drive/items/", {"type": "folder", "title": "Budget"})
    body = b"Communs\n"
    file = call("POST", "/drive/items/", {"type": "file", "title": "notes.txt", "size": len(body),
                                          "parent": folder["id"], "content_type": "text/plain"})
    upload = file["upload"]
    assert requests.put(upload["url"], data=body, headers=upload["headers"], timeout=60).ok
    call("POST", f"/drive/items/{file['id']}/upload-ended/", {}, status=200)
    ids["item_id"] += [folder["id"], file["id"]]
    versions = call("GET", f"/drive/items/{file['id']}/versions/", status=200)
    ids["version_id"] += [version["id"] for version in versions["items"]]
    ids["access_id"].append(str(call("POST", f"/drive/items/{folder['id']}/accesses/",
                                     {"user": other_user_id, "role": "reader"})["id"]))
    ids["X-Link-Access"] = []
    for item in (folder, file):
        link = call("POST", f"/drive/items/{item['id']}/links/", {"role": "reader"})
        ids["link_id"].append(link["id"])
        ids["token"].append(link["token"])
        ids["X-Link-Access"].append(call("POST", f"/drive/links/{link['token']}/", {}, status=200)["access"])
    return ids


def write_config(args: argparse.Namespace, ids: dict[str, list[str]]) -> Path:
    """bench/api_fuzz.toml, plus a dictionary of the seeded ids for each path parameter."""
    lines = [CONFIG.read_text(), "", "[dictionaries]"]
    for name, values in ids.items():
        lines.append(f"{name} = {{ values = {json.dumps(values)} }}")
    lines += ["", "[parameters]"]
    for name in ids:
        location = "header" if name[0].isupper() else "path"
        lines.append(f'"{location}.{name}" = {{ dictionary = "{name}", probability = {args.seeded} }}')
    config = args.report_dir / "schemathesis.toml"
    config.write_text("\n".join(lines) + "\n")
    return config


def schemathesis_command(args: argparse.Namespace, base: str, token: str, config: Path) -> list[str]:
    command = [
        str(Path(sys.executable).parent / "schemathesis"), "--config-file", str(config),
        "run", f"{base}/api/v1/openapi.json",
        "--checks", "all",
        "--header", f"Authorization: Bearer {token}",
        "--max-examples", str(args.max_examples),
        "--workers", args.workers,
        "--seed", str(args.seed),
        "--phases", args.phases,
        "--continue-on-failure",
        "--suppress-health-check", "all",
        "--request-timeout", "60",
        "--report", "junit", "--report-dir", str(args.report_dir),
    ]
    for operation_id in EXCLUDED_OPERATIONS:
        command += ["--exclude-operation-id", operation_id]
    return command + list(args.extra)


def main() -> int:
    args = parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="communs-api-fuzz-") as tmp:
        data_dir = Path(tmp)
        s3_engine = EmbeddedS3(data_dir / "s3")
        server: Server | None = None
        try:
            s3 = s3_engine.start("communs-fuzz")
            env = base_env(database_url=args.database_url, redis_url=args.redis_url,
                           data_dir=data_dir, s3=s3)
            env.update(SUITE_APPS="docs,drive", SUITE_TASKS_IN_PROCESS="true",
                       REDIS_KEY_PREFIX=f"communs-fuzz-{uuid.uuid4().hex[:8]}")
            ensure_database_at(args.database_url)
            server = Server("suite", env, data_dir / "server.log").start(timeout=180)
            email = f"fuzz-{uuid.uuid4().hex[:8]}@communs.example"
            suite_command(env, "user", "create", "--email", email)
            other = suite_command(env, "user", "create", "--email", f"other-{email}")
            token = suite_command(env, "token", "create", "--user", email)
            args.report_dir.mkdir(parents=True, exist_ok=True)
            config = write_config(args, seed(server.base, token, str(uuid.UUID(other))))
            command = schemathesis_command(args, server.base, token, config)
            print("$", " ".join(c if "Bearer" not in c else "Authorization: Bearer ..." for c in command),
                  file=sys.stderr, flush=True)
            # In the report directory: schemathesis keeps its replay data in the working one.
            status = subprocess.run(command, cwd=args.report_dir,
                                    env={**os.environ, "NO_COLOR": "1"}).returncode
            log = server.log_path.read_text(errors="replace")
            # Unhandled exceptions (Django also logs the 507 quota answers as errors).
            errors = [line for line in log.splitlines()
                      if "unhandled error" in line or "Internal Server Error" in line]
            print(f"[api_fuzz] {time.monotonic() - started:.0f} s; unhandled errors in the "
                  f"server log: {len(errors)}", file=sys.stderr)
            for line in errors[-5:]:
                print(line[:2000], file=sys.stderr)
            return status
        finally:
            if server is not None:
                server.stop()
            s3_engine.stop()


if __name__ == "__main__":
    raise SystemExit(main())
