"""Malware scanning of uploaded files, behind one documented base class (:class:`Scanner`).

A drive upload stays unavailable (``analyzing``) until its scan says it is clean
(``drive_app.services.uploads.analysis`` feeds the scanner while it hashes the bytes).
The configured backend (``DRIVE_SCANNER``) is one of:

* ``noop``: every file is clean (development, or deployments that scan elsewhere);
* ``clamav``: a ClamAV daemon reached over a unix socket (``DRIVE_CLAMD_SOCKET``) or TCP
  (``DRIVE_CLAMD_ADDRESS``, ``host:port``), fed with the ``INSTREAM`` command.

Failures of the scanner itself (unreachable, timed out, refusing the stream) raise
:class:`ScannerError`: callers fail closed, keep the file unavailable and retry later. A
scanner never answers "clean" for a file it could not scan.
"""

from __future__ import annotations

import abc
import socket
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext as _

from suite.errors import SuiteError

#: Bytes read from S3 and sent to the scanner at a time. clamd accepts chunks of any size up
#: to its StreamMaxLength; 64 KiB keeps both ends' buffers small.
SCAN_CHUNK_SIZE = 64 * 1024


@dataclass(frozen=True)
class ScanResult:
    """The verdict on one file: ``clean``, or not with the scanner's ``signature`` name."""

    clean: bool
    signature: str = ""


class ScannerError(SuiteError):
    """The scanner could not give a verdict: unreachable, timed out, or it refused the stream
    (e.g. larger than clamd's ``StreamMaxLength``). The file must stay unavailable and the
    scan be retried; ``details["reason"]`` is the scanner's own message when there is one."""

    code = "scanner_unavailable"
    status = 503

    def __init__(self, message: str | None = None, *, reason: str | None = None, **kwargs: Any):
        details = dict(kwargs.pop("details", None) or {})
        if reason:
            details["reason"] = reason
        super().__init__(
            message or _("The malware scanner is unavailable; try again later."),
            details=details,
            **kwargs,
        )
        self.reason = reason


class ScanLimitExceeded(ScannerError):
    """The scanner refused the file for its size (clamd's ``StreamMaxLength``). Retrying
    will not help until the scanner's limit is raised: callers may reject the file instead
    of retrying forever, but must never treat it as clean."""

    code = "scan_limit_exceeded"
    status = 422


class Scanner(abc.ABC):
    """Base class of malware scanners. A backend implements :meth:`scan`; it is built by
    :func:`get_scanner` for each scan (construction must be cheap and make no request)."""

    #: Whether a verdict needs the file's bytes (False only for the no-op scanner: callers
    #: that know the bytes' digest and type already then need not read them back).
    reads_bytes = True

    @abc.abstractmethod
    def scan(self, chunks: Iterable[bytes]) -> ScanResult:
        """Scan the file whose bytes are ``chunks`` (consumed once, in order; empty chunks
        are allowed) and return the verdict.

        The file is streamed: a backend never joins the chunks into one buffer. Raises
        :class:`ScannerError` when no verdict can be given; never returns ``clean=True``
        for a file it did not read to the end.
        """

    def ping(self) -> bool:
        """Whether the scanner answers (for ``/readyz`` and operators). Never raises."""
        return True


class NoopScanner(Scanner):
    """Declares every file clean without reading it: for deployments without a scanner."""

    reads_bytes = False

    def scan(self, chunks: Iterable[bytes]) -> ScanResult:
        return ScanResult(clean=True)


class ClamdScanner(Scanner):
    """A ClamAV daemon, spoken to directly with clamd's documented socket protocol
    (``man clamd``: ``zINSTREAM``, ``zPING``).

    There is no well-kept Python client to depend on: ``clamd`` and ``pyclamd`` on PyPI have
    not been maintained since 2017, and the protocol is a dozen lines. Commands use the
    ``z`` prefix (NUL-terminated command and reply). ``INSTREAM`` sends the file as chunks,
    each prefixed with its length as a 4-byte big-endian integer, and ends with a zero
    length; clamd answers ``stream: OK``, ``stream: <signature> FOUND`` or ``<message>
    ERROR``. It closes the connection early when the stream passes its ``StreamMaxLength``.
    """

    def __init__(
        self,
        socket_path: str | None = None,
        address: tuple[str, int] | None = None,
        timeout: float = 300.0,
    ):
        if (socket_path is None) == (address is None):
            raise ValueError("ClamdScanner needs exactly one of socket_path and address")
        self.socket_path = socket_path
        self.address = address
        self.timeout = timeout

    def __repr__(self) -> str:
        target = self.socket_path or "{}:{}".format(*self.address)  # type: ignore[misc]
        return f"ClamdScanner({target})"

    # --- protocol ----------------------------------------------------------------------------

    def _connect(self) -> socket.socket:
        try:
            if self.socket_path is not None:
                conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                conn.settimeout(self.timeout)
                try:
                    conn.connect(self.socket_path)
                except BaseException:
                    conn.close()
                    raise
                return conn
            assert self.address is not None
            return socket.create_connection(self.address, timeout=self.timeout)
        except OSError as exc:
            raise ScannerError(reason=f"cannot connect to clamd ({self!r}): {exc}") from exc

    @staticmethod
    def _read_reply(conn: socket.socket) -> str:
        """The NUL-terminated reply, or what came before the connection closed."""
        reply = bytearray()
        while b"\0" not in reply and len(reply) < 64 * 1024:
            data = conn.recv(4096)
            if not data:
                break
            reply += data
        return reply.split(b"\0", 1)[0].decode("utf-8", "replace").strip()

    def ping(self) -> bool:
        try:
            with self._connect() as conn:
                conn.sendall(b"zPING\0")
                return self._read_reply(conn) == "PONG"
        except (OSError, ScannerError):
            return False

    def scan(self, chunks: Iterable[bytes]) -> ScanResult:
        with self._connect() as conn:
            try:
                conn.sendall(b"zINSTREAM\0")
                for chunk in _bounded(chunks, SCAN_CHUNK_SIZE):
                    conn.sendall(struct.pack(">I", len(chunk)) + chunk)
                conn.sendall(struct.pack(">I", 0))
            except (BrokenPipeError, ConnectionResetError) as exc:
                # clamd stops reading and closes when it refuses the stream (size limit);
                # its reason may already be waiting in our receive buffer.
                reply = self._read_reply_after_failure(conn)
                if reply:
                    # Raises for an ERROR reply; a verdict on a stream clamd did not read
                    # to the end would not be trusted either.
                    self._verdict(reply)
                raise ScannerError(reason=f"clamd closed the connection: {exc}") from exc
            except OSError as exc:
                raise ScannerError(reason=f"clamd stream failed: {exc}") from exc
            try:
                reply = self._read_reply(conn)
            except OSError as exc:
                raise ScannerError(reason=f"no answer from clamd: {exc}") from exc
        return self._verdict(reply)

    def _read_reply_after_failure(self, conn: socket.socket) -> str:
        try:
            return self._read_reply(conn)
        except OSError:
            return ""

    @staticmethod
    def _verdict(reply: str) -> ScanResult:
        if reply == "stream: OK":
            return ScanResult(clean=True)
        if reply.startswith("stream: ") and reply.endswith(" FOUND"):
            return ScanResult(clean=False, signature=reply[len("stream: ") : -len(" FOUND")])
        # "<message> ERROR", an empty reply (clamd died) or anything unexpected: no verdict.
        if "size limit exceeded" in reply:
            raise ScanLimitExceeded(
                _("The file is larger than the malware scanner accepts."), reason=reply
            )
        raise ScannerError(reason=reply or "empty reply from clamd")


def _bounded(chunks: Iterable[bytes], size: int) -> Iterator[bytes]:
    """``chunks`` re-cut so none is empty (a zero length ends an INSTREAM) or over ``size``."""
    for chunk in chunks:
        if 0 < len(chunk) <= size:
            yield chunk
            continue
        view = memoryview(chunk)
        for start in range(0, len(view), size):
            yield bytes(view[start : start + size])


# --- configuration -------------------------------------------------------------------------------


def parse_address(value: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` for IPv6) -> ``(host, port)``; ImproperlyConfigured
    naming DRIVE_CLAMD_ADDRESS otherwise."""
    host, sep, port_text = value.strip().rpartition(":")
    host = host.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ImproperlyConfigured(f"DRIVE_CLAMD_ADDRESS: expected host:port, got {value!r}")
    return host, int(port_text)


def get_scanner() -> Scanner:
    """The scanner the settings ask for (read at each call, so tests can override them).

    ``DRIVE_SCANNER=clamav`` needs exactly one of ``DRIVE_CLAMD_SOCKET`` and
    ``DRIVE_CLAMD_ADDRESS``; anything else raises ImproperlyConfigured.
    """
    name = settings.DRIVE_SCANNER
    if name == "noop":
        return NoopScanner()
    if name == "clamav":
        socket_path = settings.DRIVE_CLAMD_SOCKET or None
        address_text = settings.DRIVE_CLAMD_ADDRESS or None
        if (socket_path is None) == (address_text is None):
            raise ImproperlyConfigured(
                "DRIVE_SCANNER=clamav needs exactly one of DRIVE_CLAMD_SOCKET (unix socket "
                "path) and DRIVE_CLAMD_ADDRESS (host:port)"
            )
        return ClamdScanner(
            socket_path=socket_path,
            address=parse_address(address_text) if address_text else None,
            timeout=float(settings.DRIVE_CLAMD_TIMEOUT),
        )
    raise ImproperlyConfigured(f"DRIVE_SCANNER: unknown scanner {name!r} (noop or clamav)")
