"""HTTP load for the benchmarks: ``wrk`` when installed, otherwise a small asyncio
keep-alive client run in a child process (``python bench/http_load.py '<json config>'``),
so the load generator never shares the measured server's interpreter."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import sys
import time
from urllib.parse import urlsplit

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
    if not match:
        raise ValueError(value)
    return float(match[1]) * _UNITS[match[2]]


def run_wrk(url: str, *, duration: int, connections: int, token: str | None) -> dict[str, float]:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", url]
    if token:
        command[1:1] = ["-H", f"Authorization: Bearer {token}"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", output, re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1]),
        "p50_ms": _ms(percentiles["50"]),
        "p99_ms": _ms(percentiles["99"]),
        "errors": (int(errors[1]) if errors else 0)
        + (sum(int(n) for n in socket_errors.groups()) if socket_errors else 0),
    }


async def _keepalive_worker(
    host: str, port: int, request: bytes, until: float, latencies: list[float], errors: list[int]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < until:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = re.search(rb"(?i)content-length:\s*(\d+)", head)
            if length is None:
                raise RuntimeError("the built-in load client needs responses with Content-Length")
            await reader.readexactly(int(length[1]))
            latencies.append((time.perf_counter() - started) * 1000)
            if not head.startswith(b"HTTP/1.1 2"):
                errors.append(1)
    finally:
        writer.close()


def python_load(url: str, duration: int, connections: int, token: str | None) -> dict[str, float]:
    """Fallback when wrk is not installed (run in a child process: see ``__main__``)."""
    parts = urlsplit(url)
    headers = f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
    if token:
        headers += f"Authorization: Bearer {token}\r\n"
    request = (headers + "\r\n").encode()
    latencies: list[float] = []
    errors: list[int] = []

    async def main() -> None:
        until = time.perf_counter() + duration
        await asyncio.gather(
            *(
                _keepalive_worker(parts.hostname, parts.port, request, until, latencies, errors)
                for _ in range(connections)
            )
        )

    started = time.perf_counter()
    asyncio.run(main())
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": latencies[len(latencies) // 2],
        "p99_ms": latencies[int(len(latencies) * 0.99)],
        "errors": len(errors),
    }


def run_load(url: str, *, duration: int, connections: int, token: str | None) -> dict[str, float]:
    if shutil.which("wrk"):
        return run_wrk(url, duration=duration, connections=connections, token=token)
    config = json.dumps(
        {"url": url, "duration": duration, "connections": connections, "token": token}
    )
    output = subprocess.run(
        [sys.executable, __file__, config], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(output)


if __name__ == "__main__":
    settings = json.loads(sys.argv[1])
    print(
        json.dumps(
            python_load(
                settings["url"], settings["duration"], settings["connections"], settings["token"]
            )
        )
    )
