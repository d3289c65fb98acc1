"""A real OpenSSH `sshd` on loopback for tests, and a TCP proxy that cuts connections.

`sshd_server()` starts `/usr/sbin/sshd -D -e -f <config>` on 127.0.0.1 on a free port with its
own ed25519 host key and one authorised client key, all in a fresh directory, and stops it
afterwards. The directory is made with `tempfile.mkdtemp` and opened to 0755 (pytest's
tmp_path lives under a 0700 directory a non-root login user could not enter).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = [
    "TEST_USER",
    "CuttingProxy",
    "SshServer",
    "ed25519_keypair",
    "ensure_test_user",
    "known_hosts_line",
    "sshd_server",
]

SSHD = Path("/usr/sbin/sshd")  # sshd re-executes itself: it must be given an absolute path
HOST = "127.0.0.1"
TEST_USER = "rcoi-sftp-test"  # a non-root login, for permissions root would ignore
_START_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class SshServer:
    """A running sshd: where to connect, as whom, with which key, and the pinned host key."""

    host: str
    port: int
    user: str
    directory: Path  # the server's own files; `data` below it is where tests put remote dirs
    client_key: Path  # private key (OpenSSH format, no passphrase) the server authorises
    known_hosts: Path  # `[127.0.0.1]:PORT ssh-ed25519 AAAA...`: the server's key pinned
    host_public_key: str  # "ssh-ed25519 AAAA..."
    log_path: Path

    @property
    def data(self) -> Path:
        return self.directory / "data"

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def ed25519_keypair(private_path: Path) -> str:
    """Write a new ed25519 private key (OpenSSH format, 0600) and return its public line."""
    key = Ed25519PrivateKey.generate()
    private_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
    )
    private_path.chmod(0o600)
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return public.decode("ascii")


def known_hosts_line(host: str, port: int, public_key: str) -> str:
    name = host if port == 22 else f"[{host}]:{port}"
    return f"{name} {public_key}\n"


def ensure_test_user() -> str:
    """The dedicated non-root login `rcoi-sftp-test`, created (as root) when missing: no home,
    no shell, and a `*` password (no password login, but not "locked": sshd without PAM
    refuses accounts whose password starts with `!`)."""
    try:
        pwd.getpwnam(TEST_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                "/usr/sbin/nologin",
                "--password",
                "*",
                TEST_USER,
            ],
            check=False,
            capture_output=True,
        )
        pwd.getpwnam(TEST_USER)  # KeyError unless made now, here or by a parallel worker
    return TEST_USER


def _sshd_version() -> tuple[int, int]:
    result = subprocess.run([str(SSHD), "-V"], capture_output=True, text=True, check=False)
    found = re.search(r"OpenSSH_(\d+)\.(\d+)", result.stderr + result.stdout)
    return (int(found.group(1)), int(found.group(2))) if found else (0, 0)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _config(directory: Path, port: int, user: str, sftp: str) -> str:
    lines = [
        f"ListenAddress {HOST}",
        f"Port {port}",
        f"HostKey {directory / 'ssh_host_ed25519_key'}",
        f"PidFile {directory / 'sshd.pid'}",
        f"AuthorizedKeysFile {directory / 'authorized_keys'}",
        "StrictModes no",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "PermitRootLogin prohibit-password",
        f"AllowUsers {user}",
        "AllowTcpForwarding no",
        "X11Forwarding no",
        "PrintMotd no",
        "LogLevel VERBOSE",
        f"Subsystem sftp {sftp}",
    ]
    if _sshd_version() >= (9, 8):
        # Newer sshd penalises sources that disconnect before authenticating: the tests do so
        # on purpose (refused host keys, cut connections).
        lines.append("PerSourcePenalties no")
    return "\n".join(lines) + "\n"


def _wait_listening(process: subprocess.Popen[bytes], port: int) -> bool:
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.5):
            return True
        time.sleep(0.05)
    return False


@contextlib.contextmanager
def sshd_server(user: str | None = None, *, read_only: bool = False) -> Iterator[SshServer]:
    """A running sshd on 127.0.0.1 that lets `user` (default: the current one) in by key only,
    with `internal-sftp` (read-only: `-R`, every write refused); stopped and removed after."""
    if not SSHD.exists():
        import pytest

        pytest.skip(f"{SSHD} is not installed")
    login = user or pwd.getpwuid(os.getuid()).pw_name
    directory = Path(tempfile.mkdtemp(prefix="rcoi-sshd-"))
    process: subprocess.Popen[bytes] | None = None
    try:
        directory.chmod(0o755)
        (directory / "data").mkdir()
        host_public = ed25519_keypair(directory / "ssh_host_ed25519_key")
        client_public = ed25519_keypair(directory / "client_key")
        authorized = directory / "authorized_keys"
        authorized.write_text(client_public + "\n", encoding="ascii")
        authorized.chmod(0o644)  # sshd reads it as the login user
        if os.getuid() == 0:
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation dir
        sftp = "internal-sftp" + (" -R" if read_only else "")
        log_path = directory / "sshd.log"
        for _ in range(3):  # the free port may be taken between the probe and sshd's bind
            port = _free_port()
            config = directory / "sshd_config"
            config.write_text(_config(directory, port, login, sftp), encoding="ascii")
            with log_path.open("ab") as log:
                process = subprocess.Popen(
                    [str(SSHD), "-D", "-e", "-f", str(config)],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                )
            if _wait_listening(process, port):
                break
            _stop(process)
            process = None
        if process is None:
            raise RuntimeError(f"sshd did not start:\n{log_path.read_text(errors='replace')}")
        known_hosts = directory / "known_hosts"
        known_hosts.write_text(known_hosts_line(HOST, port, host_public), encoding="ascii")
        yield SshServer(
            host=HOST,
            port=port,
            user=login,
            directory=directory,
            client_key=directory / "client_key",
            known_hosts=known_hosts,
            host_public_key=host_public,
            log_path=log_path,
        )
    finally:
        if process is not None:
            _stop(process)
        shutil.rmtree(directory, ignore_errors=True)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


class CuttingProxy:
    """A TCP proxy on 127.0.0.1 in front of `port`: a connection breaks (no byte more reaches
    the server; `settle_s` later both sides are closed) once `cut_after` bytes have gone from
    the client to the server, until `cuts` connections have been cut; after that everything
    passes. Counts the client-to-server bytes of every connection."""

    def __init__(self, port: int, cut_after: int, cuts: int = 1, settle_s: float = 0.3) -> None:
        self._upstream = port
        self._settle_s = settle_s
        self.cut_after = cut_after
        self.cuts_left = cuts
        self.upstream_bytes: list[int] = []  # per connection, in order of arrival
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._listener = socket.create_server((HOST, 0))
        self._listener.settimeout(0.05)  # close() would not wake a blocked accept()
        self.port = int(self._listener.getsockname()[1])
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []
        self._acceptor = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> CuttingProxy:
        self._acceptor.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing.set()
        self._listener.close()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # wakes the pumps blocked in recv()
            with contextlib.suppress(OSError):
                sock.close()
        self._acceptor.join(timeout=5)
        for thread in self._threads:
            thread.join(timeout=5)

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            server = socket.create_connection((HOST, self._upstream))
            with self._lock:
                index = len(self.upstream_bytes)
                self.upstream_bytes.append(0)
                self._sockets += [client, server]
            pair = (client, server)
            for source, sink, counted in ((client, server, True), (server, client, False)):
                thread = threading.Thread(
                    target=self._pump,
                    args=(source, sink, pair, index if counted else None),
                    daemon=True,
                )
                thread.start()
                self._threads.append(thread)

    def _pump(
        self,
        source: socket.socket,
        sink: socket.socket,
        pair: tuple[socket.socket, socket.socket],
        index: int | None,
    ) -> None:
        try:
            while data := source.recv(65536):
                cut = False
                if index is not None:
                    with self._lock:
                        sent = self.upstream_bytes[index]
                        if self.cuts_left > 0 and sent + len(data) >= self.cut_after:
                            data = data[: self.cut_after - sent]
                            self.cuts_left -= 1
                            cut = True
                        self.upstream_bytes[index] += len(data)
                sink.sendall(data)
                if cut:
                    # The link breaks here. The server is left time to store what it was
                    # delivered (sshd drops what its SFTP child has not taken when the TCP
                    # stream ends), then gets an end of stream; the client learns of the break
                    # when the server has closed (the other pump closes both).
                    time.sleep(self._settle_s)
                    sink.shutdown(socket.SHUT_WR)
                    return
        except OSError:
            pass
        for sock in pair:  # one side ended or the cut came: end both, like a broken link
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()
