"""Sending the federal package: by SFTP to the federal centre, or to a local drop folder.

Both transports follow one algorithm (`_put`): a file goes up as `.<name>.part` in its
directory, is read back and checked (size and SHA-256) and only then renamed to its final
name, so a partial file never appears under that name. A file already complete is skipped,
a partial temp file is continued from its size, and the manifest goes last: a package whose
`manifest.json` exists is complete (docs/federal-package.md, "Sending").
"""

from __future__ import annotations

import contextvars
import errno
import hashlib
import logging
import os
import posixpath
import queue
import socket
import stat
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

import paramiko  # type: ignore[import-untyped]

from config.settings import Settings
from tasks.adapters.stage_locks import ensure_current_lease_held
from tasks.errors import (
    ConfigError,
    HostKeyRefused,
    RcoiError,
    TransientError,
    UploadError,
    UploadInterrupted,
    UploadRefused,
)

__all__ = [
    "LocalDropTransport",
    "PackageFile",
    "PackageTransport",
    "SendReport",
    "SftpTarget",
    "SftpTransport",
    "is_transient",
    "package_file",
    "temp_path",
    "transport_from_settings",
]

_log = logging.getLogger(__name__)

_CHUNK = 32768  # paramiko's largest SFTP write request: bigger chunks are split anyway
_READ_CHUNK = 1 << 20
_PIPELINE_DEPTH = 64  # write requests in flight per file (2 MiB): speed on a slow link
_MAX_BACKOFF_S = 60.0
# A fresh upload whose read-back differs is sent once more; a second difference is the
# server's fault (a broken disk, a filter), not luck.
_FRESH_UPLOADS = 2
# Network errors that come and go; any other OSError (permission, no space) is permanent.
_TRANSIENT_ERRNOS = frozenset(
    {
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.ECONNREFUSED,
        errno.EPIPE,
        errno.ETIMEDOUT,
        errno.ENETUNREACH,
        errno.ENETDOWN,
        errno.EHOSTUNREACH,
        errno.EHOSTDOWN,
    }
)
_NO_PERMISSION = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})
_NO_SUCH = frozenset({errno.ENOENT, errno.ENOTDIR})
_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})

Outcome = Literal["sent", "resumed", "skipped"]
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class PackageFile:
    """One file of a package as the manifest lists it."""

    path: str  # relative, '/'-separated, e.g. "images/4201001/420100100017.tif"
    size: int
    sha256: str  # hex


@dataclass(frozen=True, slots=True)
class SendReport:
    """What one `send` did. The manifest counts as a path (in `sent` or `skipped`)."""

    package: str  # the package directory name
    sent: tuple[str, ...]  # paths uploaded (completed) in this call
    skipped: tuple[str, ...]  # paths already complete at the target (not re-sent)
    resumed: tuple[str, ...]  # paths whose partial temp file was continued, not restarted
    bytes_sent: int


class PackageTransport(Protocol):
    """Where packages go and receipts come from."""

    @property
    def target(self) -> str:
        """For logs and the database, without secrets: "sftp://user@host:port/incoming"."""
        ...

    def send(
        self, package_dir: Path, files: Sequence[PackageFile], manifest: str = "manifest.json"
    ) -> SendReport: ...

    def fetch_return(self, name: str) -> bytes | None:
        """A file of the returns directory, None while it is absent."""
        ...


@dataclass(frozen=True, slots=True)
class SftpTarget:
    """The federal centre's SFTP server. `remote_dir`/`returns_dir` are relative to the
    login directory unless absolute."""

    host: str
    port: int
    username: str
    key_path: Path
    key_passphrase: str | None = field(repr=False)
    known_hosts: Path
    remote_dir: str
    returns_dir: str
    concurrency: int
    timeout_s: float
    attempts: int = 4
    backoff_s: float = 1.0


def temp_path(path: str) -> str:
    """The temporary name a file travels under: `images/1/a.tif` -> `images/1/.a.tif.part`."""
    head, name = posixpath.split(path)
    return posixpath.join(head, f".{name}.part")


def package_file(package_dir: Path, path: str) -> PackageFile:
    """The manifest entry of a file on disk (size and SHA-256)."""
    local = package_dir.joinpath(*path.split("/"))
    return PackageFile(path, local.stat().st_size, _file_sha256(local))


def is_transient(exc: BaseException) -> bool:
    """Whether sending again later may succeed: for a Prefect `retry_condition_fn`. Takes this
    module's errors and the raw socket/paramiko errors they are made from."""
    if isinstance(exc, UploadError):
        return isinstance(exc, UploadInterrupted)
    if isinstance(exc, TransientError):
        return True
    if isinstance(exc, paramiko.AuthenticationException | paramiko.BadHostKeyException):
        return False
    if isinstance(
        exc,
        paramiko.SSHException
        | paramiko.SFTPError
        | paramiko.ssh_exception.NoValidConnectionsError
        | EOFError
        | TimeoutError
        | ConnectionError
        | socket.gaierror,
    ):
        return True
    return isinstance(exc, OSError) and exc.errno in _TRANSIENT_ERRNOS


def transport_from_settings(settings: Settings) -> PackageTransport:
    """SFTP when `RCOI_FEDERAL_SFTP_HOST` is set, else the local drop of the demo."""
    if not settings.federal_sftp_host:
        return LocalDropTransport(settings.federal_drop_dir())
    username = settings.federal_sftp_username
    key_path = settings.federal_sftp_key_path
    known_hosts = settings.federal_sftp_known_hosts
    if not username or key_path is None or known_hosts is None:  # the settings refuse it first
        raise ConfigError("federal SFTP needs a username, a key and a known_hosts file")
    passphrase = settings.federal_sftp_key_passphrase
    return SftpTransport(
        SftpTarget(
            host=settings.federal_sftp_host,
            port=settings.federal_sftp_port,
            username=username,
            key_path=key_path,
            key_passphrase=passphrase.get_secret_value() if passphrase else None,
            known_hosts=known_hosts,
            remote_dir=settings.federal_sftp_remote_dir,
            returns_dir=settings.federal_sftp_returns_dir,
            concurrency=settings.federal_sftp_concurrency,
            timeout_s=settings.federal_sftp_timeout_s,
        )
    )


# --- the algorithm shared by both transports -------------------------------------------------


class _Refused(RcoiError):
    """The store answered an operation with an error that retrying will not cure; translated
    to `UploadRefused` by the transport, which knows the file and the target."""

    def __init__(self, op: str, path: str, cause: OSError) -> None:
        super().__init__(f"{op} {path}: {cause}")
        self.op = op
        self.path = path
        self.cause = cause


class _Mismatch(RcoiError):
    """A file read back differs from what was sent, twice."""


class _ConnectionLost(ConnectionError):
    """The SSH connection died under an SFTP call (paramiko then says "Socket is closed")."""


class _Store(Protocol):
    """The few file operations `_put` needs, on '/'-separated paths."""

    def size(self, path: str) -> int | None: ...
    def sha256(self, path: str) -> str: ...
    def read(self, path: str) -> bytes: ...
    def write(self, path: str, source: Path, offset: int) -> None: ...
    def remove(self, path: str) -> None: ...
    def publish(self, temp: str, final: str, expected: PackageFile) -> None: ...
    def makedirs(self, path: str) -> None: ...


@dataclass(frozen=True, slots=True)
class _Item:
    file: PackageFile
    source: Path  # the local file
    dest: str  # its path in the store


@dataclass(slots=True)
class _Tally:
    bytes_sent: int = 0


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_READ_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _is_complete(store: _Store, path: str, expected: PackageFile) -> bool:
    return store.size(path) == expected.size and store.sha256(path) == expected.sha256


def _put(store: _Store, item: _Item) -> Outcome:
    """Bring one file to its final name in the store, checked; continue a partial temp file."""
    ensure_current_lease_held()  # a run that lost its stage key sends nothing more
    final, expected = item.dest, item.file
    temp = temp_path(final)
    store.makedirs(posixpath.dirname(final))
    if _is_complete(store, final, expected):
        return "skipped"
    partial = store.size(temp)
    offset = partial if partial is not None and partial <= expected.size else 0
    fresh = 0
    while True:
        resuming = offset > 0
        store.write(temp, item.source, offset)
        fresh += not resuming
        if _is_complete(store, temp, expected):
            store.publish(temp, final, expected)
            return "resumed" if resuming else "sent"
        _log.warning(
            "read-back of %s differs from the manifest (%s upload); sending it again from zero",
            expected.path,
            "resumed" if resuming else "fresh",
        )
        store.remove(temp)
        if fresh >= _FRESH_UPLOADS:
            raise _Mismatch(f"{expected.path}: read-back differs after {fresh} fresh uploads")
        offset = 0


def _check_path(path: str) -> None:
    parts = path.split("/")
    if not path or "\\" in path or any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"not a relative '/'-separated package path: {path!r}")


def _check_name(name: str) -> None:
    if not name or "/" in name or "\\" in name or name in (".", ".."):
        raise ValueError(f"not a file name: {name!r}")


def _plan(
    package_dir: Path, files: Sequence[PackageFile], manifest: str, root: str
) -> tuple[list[_Item], _Item]:
    """The items to send (files, then the manifest) with their store paths under `root`."""
    seen: set[str] = set()
    for entry in files:
        _check_path(entry.path)
        if entry.path in seen or entry.path == manifest:
            raise ValueError(f"package path listed twice or as the manifest: {entry.path!r}")
        seen.add(entry.path)
    _check_path(manifest)
    items = [
        _Item(entry, package_dir.joinpath(*entry.path.split("/")), posixpath.join(root, entry.path))
        for entry in files
    ]
    manifest_source = package_dir.joinpath(*manifest.split("/"))
    if not manifest_source.is_file():
        raise _local_error(package_dir.name, manifest, "is missing", "отсутствует")
    manifest_item = _Item(
        package_file(package_dir, manifest), manifest_source, posixpath.join(root, manifest)
    )
    return items, manifest_item


def _check_sources(package: str, items: Iterable[_Item]) -> None:
    """Fail before touching the target when the local package disagrees with its manifest."""
    for item in items:
        try:
            size = item.source.stat().st_size
        except FileNotFoundError:
            raise _local_error(package, item.file.path, "is missing", "отсутствует") from None
        if size != item.file.size or _file_sha256(item.source) != item.file.sha256:
            raise _local_error(
                package,
                item.file.path,
                "differs from the manifest (size or SHA-256)",
                "не совпадает с манифестом (размер или SHA-256)",
            )


def _local_error(package: str, path: str, what: str, what_ru: str) -> UploadError:
    return UploadError(
        f"local file {path} of package {package} {what}",
        f"Файл {path} пакета {package} {what_ru} в локальной папке пакета: пакет не отправлен, "
        "его нужно собрать заново.",
    )


def _log_report(report: SendReport, target: str) -> None:
    _log.info(
        "package %s to %s: %d sent (%d resumed), %d skipped, %d bytes",
        report.package,
        target,
        len(report.sent),
        len(report.resumed),
        len(report.skipped),
        report.bytes_sent,
    )


def _report(package: str, outcomes: Sequence[tuple[_Item, Outcome]], bytes_sent: int) -> SendReport:
    return SendReport(
        package=package,
        sent=tuple(item.file.path for item, outcome in outcomes if outcome != "skipped"),
        skipped=tuple(item.file.path for item, outcome in outcomes if outcome == "skipped"),
        resumed=tuple(item.file.path for item, outcome in outcomes if outcome == "resumed"),
        bytes_sent=bytes_sent,
    )


@dataclass(frozen=True, slots=True)
class _Subject:
    """What an operation was about, for the messages of its errors."""

    en: str  # "images/1/a.tif of 42_2017-12-06_3f9c2a1b"
    ru: str  # "Файл images/1/a.tif пакета 42_2017-12-06_3f9c2a1b не отправлен"

    @classmethod
    def upload(cls, package: str, file: str) -> _Subject:
        return cls(f"{file} of {package}", f"Файл {file} пакета {package} не отправлен")

    @classmethod
    def receipt(cls, name: str) -> _Subject:
        return cls(f"receipt {name}", f"Ответ ФЦТ {name} не прочитан")


def _refusal(exc: _Refused, subject: _Subject, target: str, *, remote: bool) -> UploadRefused:
    """The Russian sentence for a refused operation: which file, which directory, why."""
    code = exc.cause.errno
    directory = exc.path if exc.op == "mkdir" else posixpath.dirname(exc.path)
    place = "на сервере ФЦТ" if remote else "на диске"
    if code in _NO_PERMISSION:
        if exc.op in ("stat", "read"):
            cause = f"нет прав на чтение {exc.path}"
        elif exc.op == "mkdir":
            cause = f"нет прав на создание каталога {directory}"
        else:
            cause = f"нет прав на запись в каталог {directory}"
    elif code in _NO_SUCH:
        if exc.op == "mkdir":
            cause = f"каталог {directory} не существует и не может быть создан"
        else:
            cause = f"{exc.path} исчез во время отправки"
    elif code in _NO_SPACE or (code is None and exc.op == "write"):
        # SFTP has no "disk full" status: OpenSSH answers SSH_FX_FAILURE to a failed write.
        cause = f"{place} нет места (или запись отклонена сервером)"
    else:
        cause = f"операция {exc.op} над {exc.path} отклонена: {exc.cause.strerror or exc.cause}"
    return UploadRefused(
        f"{target}: {exc.op} {exc.path} refused ({subject.en}): {exc.cause}",
        f"{subject.ru} ({target}): {cause}.",
    )


def _mismatch(subject: _Subject, target: str) -> UploadRefused:
    return UploadRefused(
        f"{target}: {subject.en} read back differently after a repeated upload",
        f"{subject.ru} ({target}): после повторной отправки файл на сервере не совпадает с "
        "отправленным (SHA-256) — сервер портит данные, нужна проверка администратором.",
    )


# --- the local drop --------------------------------------------------------------------------


class _LocalStore:
    """`_Store` over a local directory; paths are relative to `base`."""

    def __init__(self, base: Path, tally: _Tally) -> None:
        self._base = base
        self._tally = tally

    def _local(self, path: str) -> Path:
        return self._base.joinpath(*path.split("/"))

    def size(self, path: str) -> int | None:
        try:
            return self._local(path).stat().st_size
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise _Refused("stat", path, exc) from exc

    def sha256(self, path: str) -> str:
        try:
            return _file_sha256(self._local(path))
        except OSError as exc:
            raise _Refused("read", path, exc) from exc

    def read(self, path: str) -> bytes:
        try:
            return self._local(path).read_bytes()
        except OSError as exc:
            raise _Refused("read", path, exc) from exc

    def write(self, path: str, source: Path, offset: int) -> None:
        try:
            with source.open("rb") as src, self._local(path).open("r+b" if offset else "wb") as dst:
                src.seek(offset)
                dst.seek(offset)
                dst.truncate()
                while chunk := src.read(_READ_CHUNK):
                    dst.write(chunk)
                    self._tally.bytes_sent += len(chunk)
                dst.flush()
                os.fsync(dst.fileno())
        except OSError as exc:
            raise _Refused("write", path, exc) from exc

    def remove(self, path: str) -> None:
        try:
            self._local(path).unlink(missing_ok=True)
        except OSError as exc:
            raise _Refused("remove", path, exc) from exc

    def publish(self, temp: str, final: str, expected: PackageFile) -> None:
        try:
            os.replace(self._local(temp), self._local(final))
        except OSError as exc:
            raise _Refused("rename", final, exc) from exc

    def makedirs(self, path: str) -> None:
        try:
            self._local(path).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _Refused("mkdir", path, exc) from exc


class LocalDropTransport:
    """The demo's federal centre: `root/incoming/<package>/...` out, `root/returns/<name>` in,
    written exactly like the SFTP upload (temporary name, check, rename; manifest last)."""

    def __init__(self, root: Path) -> None:
        self._root = root

    @property
    def target(self) -> str:
        return (self._root / "incoming").resolve().as_uri()

    def send(
        self, package_dir: Path, files: Sequence[PackageFile], manifest: str = "manifest.json"
    ) -> SendReport:
        package = package_dir.name
        items, manifest_item = _plan(package_dir, files, manifest, package)
        _check_sources(package, items)
        tally = _Tally()
        store = _LocalStore(self._root / "incoming", tally)
        current = manifest_item
        try:
            if _is_complete(store, manifest_item.dest, manifest_item.file):
                _log.info("package %s already complete at %s", package, self.target)
                return _report(package, [(i, "skipped") for i in [*items, manifest_item]], 0)
            store.remove(manifest_item.dest)  # a stale manifest would call a partial package whole
            outcomes: list[tuple[_Item, Outcome]] = []
            for current in [*items, manifest_item]:
                outcomes.append((current, _put(store, current)))
        except _Refused as exc:
            subject = _Subject.upload(package, current.file.path)
            raise _refusal(exc, subject, self.target, remote=False) from exc
        except _Mismatch as exc:
            raise _mismatch(_Subject.upload(package, current.file.path), self.target) from exc
        report = _report(package, outcomes, tally.bytes_sent)
        _log_report(report, self.target)
        return report

    def fetch_return(self, name: str) -> bytes | None:
        _check_name(name)
        path = self._root / "returns" / name
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None


# --- SFTP ------------------------------------------------------------------------------------


class _PinnedHostKeysOnly(paramiko.RejectPolicy):  # type: ignore[misc]
    """Refuse a server whose host key is not in the pinned known_hosts file, saying so in our
    own error (paramiko's is a bare SSHException, which would look transient)."""

    def __init__(self, target: SftpTarget) -> None:
        self._target = target

    def missing_host_key(self, client: Any, hostname: str, key: Any) -> None:
        raise HostKeyRefused(
            f"host key of {hostname} ({key.get_name()}) is not in {self._target.known_hosts}",
            f"Ключ сервера ФЦТ {hostname} неизвестен: в файле закреплённых ключей "
            f"{self._target.known_hosts} нет записи для этого сервера. Соединение отклонено; "
            "получите отпечаток ключа от ФЦТ по официальному каналу и закрепите его.",
        )


class _SftpStore:
    """`_Store` over one SFTP session; paths are remote paths."""

    def __init__(self, client: Any, sftp: Any, tally: _Tally) -> None:
        self._client = client
        self._sftp = sftp
        self._tally = tally
        self._dirs: set[str] = set()

    def _alive(self) -> bool:
        transport = self._client.get_transport()
        return transport is not None and bool(transport.is_active())

    def _failure(self, op: str, path: str, exc: OSError) -> Exception:
        """An OSError of paramiko is either an SFTP status (the server's answer) or a dead
        channel; only the first is the server refusing."""
        if isinstance(exc, TimeoutError | ConnectionError) or not self._alive():
            return _ConnectionLost(f"connection lost during {op} {path}: {exc}")
        return _Refused(op, path, exc)

    def size(self, path: str) -> int | None:
        try:
            attributes = self._sftp.stat(path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self._failure("stat", path, exc) from exc
        return int(attributes.st_size or 0)

    def sha256(self, path: str) -> str:
        digest = hashlib.sha256()
        try:
            with self._sftp.open(path, "rb") as handle:
                handle.prefetch()
                while chunk := handle.read(_READ_CHUNK):
                    digest.update(chunk)
        except OSError as exc:
            raise self._failure("read", path, exc) from exc
        return digest.hexdigest()

    def read(self, path: str) -> bytes:
        try:
            with self._sftp.open(path, "rb") as handle:
                handle.prefetch()
                return bytes(handle.read())
        except OSError as exc:
            raise self._failure("read", path, exc) from exc

    def write(self, path: str, source: Path, offset: int) -> None:
        try:
            # Positional writes ("r+" and seek) rather than append: if the old session of a
            # cut connection still flushes its last requests, both write the same bytes.
            with source.open("rb") as src, self._sftp.open(path, "r+" if offset else "w") as dst:
                src.seek(offset)
                dst.seek(offset)
                dst.set_pipelined(True)
                while chunk := src.read(_CHUNK):
                    dst.write(chunk)
                    self._tally.bytes_sent += len(chunk)
                    _collect_write_replies(dst, keep=_PIPELINE_DEPTH)
                _collect_write_replies(dst, keep=0)
        except OSError as exc:
            raise self._failure("write", path, exc) from exc

    def remove(self, path: str) -> None:
        try:
            self._sftp.remove(path)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise self._failure("remove", path, exc) from exc

    def publish(self, temp: str, final: str, expected: PackageFile) -> None:
        try:
            self._sftp.posix_rename(temp, final)  # atomic, replaces a stale final file
            return
        except OSError as exc:
            # A status without errno is "Operation unsupported" (a server without OpenSSH's
            # extension) or a plain failure; anything else is the server's final answer.
            if exc.errno is not None or not self._alive():
                raise self._failure("rename", final, exc) from exc
            _log.info("posix-rename refused for %s (%s); plain rename instead", final, exc)
        # Plain SFTP rename refuses an existing target. One that already holds the right
        # bytes stays (it is complete: drop our copy, never leave the name empty); one that
        # differs is stale by the manifest and must go. Its brief absence is harmless: the
        # manifest, which alone declares the package complete, goes up after every file.
        if self.size(final) is not None:
            if _is_complete(self, final, expected):
                self.remove(temp)
                return
            _log.warning("replacing %s: it differs from the manifest", final)
            self.remove(final)
        try:
            self._sftp.rename(temp, final)
        except OSError as exc:
            raise self._failure("rename", final, exc) from exc

    def makedirs(self, path: str) -> None:
        if not path or path in self._dirs:
            return
        parts = path.split("/")
        for depth in range(1, len(parts) + 1):
            prefix = "/".join(parts[:depth]) or "/"
            if prefix in self._dirs:
                continue
            if not self._is_dir(prefix):
                try:
                    self._sftp.mkdir(prefix)
                except OSError as exc:
                    # Another worker may have made it meanwhile (OpenSSH says "Failure").
                    if not self._alive() or not self._is_dir(prefix):
                        raise self._failure("mkdir", prefix, exc) from exc
            self._dirs.add(prefix)

    def _is_dir(self, path: str) -> bool:
        try:
            attributes = self._sftp.stat(path)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise self._failure("stat", path, exc) from exc
        return stat.S_ISDIR(attributes.st_mode or 0)


def _collect_write_replies(handle: Any, keep: int) -> None:
    """Wait for the server's replies to pipelined writes until at most `keep` are pending,
    raising the first refusal (a full disk: SSH_FX_FAILURE). paramiko 5.1 (pinned) files the
    replies of pipelined writes under no file and drops them unread, so a refused write would
    only show as a short file at the read-back; `SFTPFile._reqs` holds their request ids."""
    pending = handle._reqs
    while len(pending) > keep:
        handle.sftp._read_response(pending.popleft())


class _Connection:
    """One SSH connection with its SFTP session, opened on first use; one per worker thread."""

    def __init__(self, transport: SftpTransport, tally: _Tally) -> None:
        self._transport = transport
        self._tally = tally
        self._client: Any = None
        self._store: _SftpStore | None = None

    def store(self) -> _SftpStore:
        if self._store is None:
            self._store = self._open()
        return self._store

    def _open(self) -> _SftpStore:
        target = self._transport.config
        client = paramiko.SSHClient()
        try:
            self._pin_host_keys(client, target)
            client.connect(
                target.host,
                port=target.port,
                username=target.username,
                pkey=self._transport.key(),
                allow_agent=False,
                look_for_keys=False,
                timeout=target.timeout_s,
                banner_timeout=target.timeout_s,
                auth_timeout=target.timeout_s,
                channel_timeout=target.timeout_s,
            )
            sftp = client.open_sftp()
            sftp.get_channel().settimeout(target.timeout_s)
        except BaseException:
            client.close()
            raise
        self._client = client
        return _SftpStore(client, sftp, self._tally)

    @staticmethod
    def _pin_host_keys(client: Any, target: SftpTarget) -> None:
        """Only the pinned file, never the system's or the user's; loaded into the client's
        in-memory set (not `load_host_keys`), so nothing can ever write it back."""
        try:
            client.get_host_keys().load(str(target.known_hosts))
        except OSError as exc:
            raise HostKeyRefused(
                f"pinned known_hosts {target.known_hosts} unreadable: {exc.strerror}",
                f"Файл закреплённых ключей сервера ФЦТ {target.known_hosts} не читается: "
                "соединение без проверки ключа сервера невозможно.",
            ) from exc
        client.set_missing_host_key_policy(_PinnedHostKeysOnly(target))

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        self._client = None
        self._store = None


class SftpTransport:
    """Sends packages to the federal centre's SFTP server: key authentication only, the host
    key pinned, up to `concurrency` files at once (one connection each), transient failures
    retried with exponential backoff after reconnecting, resuming where the cut left off."""

    def __init__(self, target: SftpTarget, *, sleep: Callable[[float], None] = time.sleep) -> None:
        if target.attempts < 1 or target.concurrency < 1:
            raise ConfigError("SFTP attempts and concurrency must be at least 1")
        self.config = target
        self._sleep = sleep
        self._key: Any = None
        self._key_lock = threading.Lock()

    @property
    def target(self) -> str:
        host = f"[{self.config.host}]" if ":" in self.config.host else self.config.host
        return f"sftp://{self.config.username}@{host}:{self.config.port}/{self.config.remote_dir}"

    def key(self) -> Any:
        """The client key, read once. Its errors never carry the passphrase."""
        with self._key_lock:
            if self._key is None:
                self._key = self._load_key()
            return self._key

    def _load_key(self) -> Any:
        path = self.config.key_path
        try:
            return paramiko.PKey.from_path(path, password=self.config.key_passphrase)
        except OSError as exc:
            problem, problem_ru = f"unreadable ({exc.strerror})", "не читается"
        except (paramiko.SSHException, ValueError, TypeError) as exc:
            # cryptography: TypeError without a needed passphrase, ValueError with a wrong one
            problem, problem_ru = (
                f"not loadable ({type(exc).__name__})",
                "не загружается (неверный пароль ключа или формат)",
            )
        raise UploadRefused(
            f"client key {path} {problem}", f"Ключ РЦОИ для сервера ФЦТ {path} {problem_ru}."
        )

    # -- sending --

    def send(
        self, package_dir: Path, files: Sequence[PackageFile], manifest: str = "manifest.json"
    ) -> SendReport:
        package = package_dir.name
        root = posixpath.join(self.config.remote_dir, package)
        items, manifest_item = _plan(package_dir, files, manifest, root)
        _check_sources(package, items)
        tallies: list[_Tally] = []
        lead = _Connection(self, self._new_tally(tallies))
        try:
            if self._retrying(
                lead, manifest_item, _Subject.upload(package, manifest), self._manifest_is_current
            ):
                _log.info("package %s already complete at %s", package, self.target)
                return _report(package, [(i, "skipped") for i in [*items, manifest_item]], 0)
        finally:
            lead.close()
        outcomes = self._send_files(package, items, tallies)
        try:
            subject = _Subject.upload(package, manifest)
            outcomes.append((manifest_item, self._retrying(lead, manifest_item, subject, _put)))
        finally:
            lead.close()
        report = _report(package, outcomes, sum(tally.bytes_sent for tally in tallies))
        _log_report(report, self.target)
        return report

    @staticmethod
    def _manifest_is_current(store: _SftpStore, manifest: _Item) -> bool:
        """True when the package is complete on the server; a different manifest is removed
        first, so it cannot call the package complete while its files are replaced."""
        if _is_complete(store, manifest.dest, manifest.file):
            return True
        if store.size(manifest.dest) is not None:
            _log.warning("removing a stale manifest %s before re-sending", manifest.dest)
            store.remove(manifest.dest)
        return False

    @staticmethod
    def _new_tally(tallies: list[_Tally]) -> _Tally:
        tally = _Tally()
        tallies.append(tally)  # list.append is atomic: workers may call this concurrently
        return tally

    def _send_files(
        self, package: str, items: Sequence[_Item], tallies: list[_Tally]
    ) -> list[tuple[_Item, Outcome]]:
        """Every file but the manifest, at most `concurrency` in flight, in the given order."""
        if not items:
            return []
        pending: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        for item in items:
            pending.put(item)
        stop = threading.Event()
        workers = min(self.config.concurrency, len(items))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sftp-upload") as pool:
            futures = [
                # each worker in a copy of this context: it sees the run's stage key (`_put`)
                pool.submit(
                    contextvars.copy_context().run, self._drain, package, pending, stop, tallies
                )
                for _ in range(workers)
            ]
        errors = [exc for future in futures if (exc := future.exception()) is not None]
        if errors:
            # A refusal outranks an interruption: retrying later will not help it.
            raise min(
                errors, key=lambda e: 0 if isinstance(e, UploadRefused | HostKeyRefused) else 1
            )
        done = {item.dest: outcome for future in futures for item, outcome in future.result()}
        return [(item, done[item.dest]) for item in items]

    def _drain(
        self,
        package: str,
        pending: queue.SimpleQueue[_Item],
        stop: threading.Event,
        tallies: list[_Tally],
    ) -> list[tuple[_Item, Outcome]]:
        connection = _Connection(self, self._new_tally(tallies))
        done: list[tuple[_Item, Outcome]] = []
        try:
            while not stop.is_set():
                try:
                    item = pending.get_nowait()
                except queue.Empty:
                    break
                subject = _Subject.upload(package, item.file.path)
                done.append((item, self._retrying(connection, item, subject, _put)))
        except BaseException:
            stop.set()  # the other workers finish their file and stop
            raise
        finally:
            connection.close()
        return done

    def _retrying(
        self,
        connection: _Connection,
        item: _Item,
        subject: _Subject,
        operation: Callable[[_SftpStore, _Item], _T],
    ) -> _T:
        """Run `operation` on the connection; on a transient failure reconnect after a backoff
        and run it again (it resumes), up to `attempts` times; translate what is final."""
        for attempt in range(1, self.config.attempts + 1):
            try:
                return operation(connection.store(), item)
            except UploadError:
                connection.close()
                raise
            except _Refused as exc:
                connection.close()
                raise _refusal(exc, subject, self.target, remote=True) from exc
            except _Mismatch as exc:
                connection.close()
                raise _mismatch(subject, self.target) from exc
            except Exception as exc:
                connection.close()
                final = self._final_error(exc, subject)
                if final is not None:
                    raise final from exc
                if attempt == self.config.attempts:
                    raise UploadInterrupted(
                        f"{self.target}: {subject.en} interrupted, "
                        f"{attempt} attempt(s): {type(exc).__name__}: {exc}",
                        f"{subject.ru}: связь с сервером ФЦТ ({self.target}) прервалась "
                        f"(попыток: {attempt}); следующая попытка продолжит с места обрыва.",
                    ) from exc
                delay = min(self.config.backoff_s * 2 ** (attempt - 1), _MAX_BACKOFF_S)
                _log.warning(
                    "%s: %s interrupted (%s: %s), attempt %d of %d; again in %.1f s",
                    self.target,
                    subject.en,
                    type(exc).__name__,
                    exc,
                    attempt,
                    self.config.attempts,
                    delay,
                )
                self._sleep(delay)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _final_error(self, exc: Exception, subject: _Subject) -> UploadError | None:
        """The translated error when `exc` is not worth another attempt, else None; a bug
        (neither a network nor a server error) propagates as it is."""
        target = self.config
        if isinstance(exc, paramiko.BadHostKeyException):
            return HostKeyRefused(
                f"host key of {target.host}:{target.port} differs from the pinned one",
                f"Ключ сервера ФЦТ {target.host}:{target.port} не совпадает с закреплённым в "
                f"{target.known_hosts}: соединение отклонено (возможна подмена сервера). Если "
                "ФЦТ сменил ключ, получите новый отпечаток по официальному каналу.",
            )
        if isinstance(exc, paramiko.AuthenticationException):
            return UploadRefused(
                f"{self.target}: authentication of {target.username} by key refused",
                f"{subject.ru}: сервер ФЦТ ({self.target}) отклонил вход пользователя "
                f"{target.username} по ключу {target.key_path}.",
            )
        if is_transient(exc):
            return None
        if isinstance(exc, OSError | paramiko.SSHException):
            return UploadRefused(
                f"{self.target}: {subject.en}: {type(exc).__name__}: {exc}",
                f"{subject.ru} ({self.target}): {exc}.",
            )
        raise exc

    # -- receipts --

    def fetch_return(self, name: str) -> bytes | None:
        _check_name(name)
        path = posixpath.join(self.config.returns_dir, name)
        item = _Item(PackageFile(name, 0, ""), Path(name), path)  # only `dest` is read
        connection = _Connection(self, _Tally())
        try:
            return self._retrying(connection, item, _Subject.receipt(name), self._read_if_present)
        finally:
            connection.close()

    @staticmethod
    def _read_if_present(store: _SftpStore, item: _Item) -> bytes | None:
        if store.size(item.dest) is None:
            return None
        try:
            return store.read(item.dest)
        except _Refused as exc:
            if isinstance(exc.cause, FileNotFoundError):  # taken away between stat and read
                return None
            raise
