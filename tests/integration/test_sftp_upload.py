"""The SFTP transport against a real OpenSSH sshd on loopback (tests/sshd_support.py)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from tasks.adapters import sftp
from tasks.adapters.sftp import (
    PackageFile,
    SftpTarget,
    SftpTransport,
    package_file,
    temp_path,
)
from tasks.errors import HostKeyRefused, UploadInterrupted, UploadRefused
from tests.sshd_support import (
    CuttingProxy,
    SshServer,
    ed25519_keypair,
    ensure_test_user,
    known_hosts_line,
    sshd_server,
)

pytestmark = pytest.mark.integration

PACKAGE = "42_2017-12-06_3f9c2a1b"
BIG = "images/4201001/420100100017.tif"
BIG_SIZE = 4 * 1024 * 1024


@pytest.fixture(scope="module")
def server() -> Iterator[SshServer]:
    with sshd_server() as running:
        yield running


@pytest.fixture
def remote_dir(server: SshServer, request: pytest.FixtureRequest) -> Path:
    """A fresh remote directory per test on the shared server (it does not exist yet)."""
    return server.data / str(request.node.name) / "incoming"


def pinned_through(proxy: CuttingProxy, server: SshServer, directory: Path) -> Path:
    """known_hosts pinning the server's key under the proxy's address, where the client
    meets it."""
    known_hosts = directory / f"known_hosts_{proxy.port}"
    known_hosts.write_text(known_hosts_line(server.host, proxy.port, server.host_public_key))
    return known_hosts


def make_target(server: SshServer, remote_dir: Path, **changes: object) -> SftpTarget:
    base = SftpTarget(
        host=server.host,
        port=server.port,
        username=server.user,
        key_path=server.client_key,
        key_passphrase=None,
        known_hosts=server.known_hosts,
        remote_dir=str(remote_dir),
        returns_dir=str(remote_dir.parent / "returns"),
        concurrency=2,
        timeout_s=5.0,
        attempts=1,
        backoff_s=0.01,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def make_package(root: Path, contents: dict[str, bytes]) -> tuple[Path, list[PackageFile]]:
    """A package directory with `contents` and a manifest listing them."""
    package_dir = root / PACKAGE
    for path, data in contents.items():
        local = package_dir / path
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(data)
    files = [package_file(package_dir, path) for path in sorted(contents)]
    manifest = {
        "format": "rcoi-federal-package",
        "version": 1,
        "package": PACKAGE,
        "files": [{"path": f.path, "size": f.size, "sha256": f.sha256} for f in files],
    }
    (package_dir / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return package_dir, files


def small_package(root: Path) -> tuple[Path, list[PackageFile]]:
    return make_package(
        root,
        {
            "results.csv": b"region;session;work_code\n42;2017-12-06;420100100017\n",
            "pages.csv": b"work_code;position\n420100100017;1\n",
            "images/4201001/420100100017.tif": os.urandom(70_000),
            "images/4201002/420100200021.tif": os.urandom(50_000),
        },
    )


def big_package(root: Path) -> tuple[Path, list[PackageFile]]:
    # Small files first, then the big one (files go in the given order with one worker).
    package_dir, files = make_package(
        root,
        {
            "pages.csv": b"work_code;position\n420100100017;1\n",
            "results.csv": b"region;session\n42;2017-12-06\n",
            BIG: os.urandom(BIG_SIZE),
        },
    )
    return package_dir, sorted(files, key=lambda f: f.size)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def leftovers(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*.part"))


def test_a_package_arrives_whole_and_a_second_send_skips_every_file(
    server: SshServer, remote_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package_dir, files = small_package(tmp_path)
    transport = SftpTransport(make_target(server, remote_dir))
    published: list[str] = []
    real_publish = sftp._SftpStore.publish

    def spy(store: sftp._SftpStore, temp: str, final: str, expected: PackageFile) -> None:
        real_publish(store, temp, final, expected)
        published.append(expected.path)

    monkeypatch.setattr(sftp._SftpStore, "publish", spy)

    first = transport.send(package_dir, files)

    remote = remote_dir / PACKAGE
    for entry in files:
        assert (remote / entry.path).read_bytes() == (package_dir / entry.path).read_bytes()
    assert (remote / "manifest.json").read_bytes() == (package_dir / "manifest.json").read_bytes()
    assert leftovers(remote_dir) == []
    assert set(first.sent) == {f.path for f in files} | {"manifest.json"}
    assert first.skipped == ()
    assert first.resumed == ()
    assert (
        first.bytes_sent == sum(f.size for f in files) + (remote / "manifest.json").stat().st_size
    )
    assert published[-1] == "manifest.json"
    assert transport.target == f"sftp://{server.user}@127.0.0.1:{server.port}/{remote_dir}"

    second = transport.send(package_dir, files)

    assert second.sent == ()
    assert second.bytes_sent == 0
    assert set(second.skipped) == set(first.sent)


def test_files_complete_on_the_server_are_skipped_without_a_manifest(
    server: SshServer, remote_dir: Path, tmp_path: Path
) -> None:
    package_dir, files = small_package(tmp_path)
    remote = remote_dir / PACKAGE
    (remote / "images/4201001").mkdir(parents=True)
    done = files[0]  # images/4201001/420100100017.tif (sorted)
    (remote / done.path).write_bytes((package_dir / done.path).read_bytes())

    report = SftpTransport(make_target(server, remote_dir)).send(package_dir, files)

    assert report.skipped == (done.path,)
    assert done.path not in report.sent
    assert sha256_of(remote / "manifest.json") == sha256_of(package_dir / "manifest.json")


def test_a_cut_connection_leaves_no_partial_file_under_its_final_name_and_the_next_send_resumes(
    server: SshServer, remote_dir: Path, tmp_path: Path
) -> None:
    package_dir, files = big_package(tmp_path)
    remote = remote_dir / PACKAGE
    with CuttingProxy(server.port, cut_after=BIG_SIZE // 2, cuts=1) as proxy:
        known_hosts = pinned_through(proxy, server, tmp_path)
        target = make_target(
            server, remote_dir, port=proxy.port, known_hosts=known_hosts, concurrency=1
        )
        transport = SftpTransport(target)

        with pytest.raises(UploadInterrupted) as cut:
            transport.send(package_dir, files)

        assert BIG in cut.value.reason_ru
        assert "прервалась" in cut.value.reason_ru
        assert not (remote / BIG).exists()
        assert not (remote / "manifest.json").exists()
        partial = (remote / temp_path(BIG)).stat().st_size
        assert 0 < partial < BIG_SIZE
        for small in ("pages.csv", "results.csv"):
            assert (remote / small).read_bytes() == (package_dir / small).read_bytes()
        connections_before = len(proxy.upstream_bytes)

        resumed = transport.send(package_dir, files)

        upstream_after = sum(proxy.upstream_bytes[connections_before:])
    assert set(resumed.skipped) == {"pages.csv", "results.csv"}
    assert resumed.resumed == (BIG,)
    assert resumed.sent == (BIG, "manifest.json")
    assert resumed.bytes_sent <= BIG_SIZE - partial + (remote / "manifest.json").stat().st_size
    # Only the rest of the big file travelled again (plus SSH and SFTP overhead).
    assert BIG_SIZE - partial < upstream_after < BIG_SIZE - partial + 300_000
    assert sha256_of(remote / BIG) == sha256_of(package_dir / BIG)
    assert leftovers(remote_dir) == []


def test_with_attempts_left_a_cut_is_resumed_within_the_same_send(
    server: SshServer, remote_dir: Path, tmp_path: Path
) -> None:
    package_dir, files = big_package(tmp_path)
    sleeps: list[float] = []
    with CuttingProxy(server.port, cut_after=BIG_SIZE // 2, cuts=1) as proxy:
        known_hosts = pinned_through(proxy, server, tmp_path)
        target = make_target(
            server, remote_dir, port=proxy.port, known_hosts=known_hosts, attempts=3
        )
        report = SftpTransport(target, sleep=sleeps.append).send(package_dir, files)
        upstream = sum(proxy.upstream_bytes)

    assert proxy.cuts_left == 0
    assert report.resumed == (BIG,)
    assert set(report.sent) == {f.path for f in files} | {"manifest.json"}
    assert sleeps == [0.01]
    # Restarting from zero would have sent half the file twice.
    assert upstream < BIG_SIZE + 400_000
    assert sha256_of(remote_dir / PACKAGE / BIG) == sha256_of(package_dir / BIG)
    assert leftovers(remote_dir) == []


def test_a_changed_host_key_is_refused_and_nothing_is_written(
    server: SshServer, remote_dir: Path, tmp_path: Path
) -> None:
    package_dir, files = small_package(tmp_path)
    other_key = ed25519_keypair(tmp_path / "impostor_key")
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(known_hosts_line(server.host, server.port, other_key))
    pinned = known_hosts.read_bytes()
    sleeps: list[float] = []
    target = make_target(server, remote_dir, known_hosts=known_hosts, attempts=3)

    with pytest.raises(HostKeyRefused) as refused:
        SftpTransport(target, sleep=sleeps.append).send(package_dir, files)

    assert "не совпадает с закреплённым" in refused.value.reason_ru
    assert sleeps == []  # never retried
    assert known_hosts.read_bytes() == pinned
    assert not remote_dir.exists()


def test_an_unknown_host_key_is_refused_and_never_written_down(
    server: SshServer, remote_dir: Path, tmp_path: Path
) -> None:
    package_dir, files = small_package(tmp_path)
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("")
    target = make_target(server, remote_dir, known_hosts=known_hosts, attempts=3)

    with pytest.raises(HostKeyRefused) as refused:
        SftpTransport(target).send(package_dir, files)

    assert "неизвестен" in refused.value.reason_ru
    assert known_hosts.read_text() == ""
    assert not remote_dir.exists()


def test_a_key_the_server_does_not_authorise_is_refused(
    server: SshServer, remote_dir: Path, tmp_path: Path
) -> None:
    package_dir, files = small_package(tmp_path)
    ed25519_keypair(tmp_path / "stranger_key")
    target = make_target(server, remote_dir, key_path=tmp_path / "stranger_key", attempts=3)

    with pytest.raises(UploadRefused) as refused:
        SftpTransport(target, sleep=lambda _: None).send(package_dir, files)

    assert "отклонил вход" in refused.value.reason_ru
    assert not remote_dir.exists()


def test_a_read_only_server_refuses_the_upload_with_a_russian_reason(tmp_path: Path) -> None:
    package_dir, files = small_package(tmp_path)
    with sshd_server(read_only=True) as read_only:
        remote_dir = read_only.data / "incoming"
        remote_dir.mkdir()
        target = make_target(read_only, remote_dir, attempts=3)

        with pytest.raises(UploadRefused) as refused:
            SftpTransport(target, sleep=lambda _: None).send(package_dir, files)

        assert "нет прав" in refused.value.reason_ru
        assert PACKAGE in refused.value.reason_ru
        assert list(remote_dir.iterdir()) == []


@pytest.fixture
def unprivileged_login() -> str | None:
    """A login the file permissions apply to: the dedicated test user when running as root."""
    if os.getuid() != 0:
        return None  # the current user
    try:
        return ensure_test_user()
    except (OSError, KeyError) as exc:
        pytest.skip(f"cannot create the test user for the permission test: {exc}")


def test_a_directory_the_login_cannot_write_is_refused_naming_file_and_directory(
    unprivileged_login: str | None, tmp_path: Path
) -> None:
    package_dir, files = make_package(tmp_path, {"results.csv": b"region;session\n"})
    with sshd_server(unprivileged_login) as restricted:
        locked = restricted.data / "locked"
        (locked / PACKAGE).mkdir(parents=True)  # owned by us, not by the login
        locked.chmod(0o555)
        (locked / PACKAGE).chmod(0o555)
        target = make_target(restricted, locked)
        try:
            with pytest.raises(UploadRefused) as refused:
                SftpTransport(target).send(package_dir, files)
            with pytest.raises(UploadRefused) as no_mkdir:
                SftpTransport(replace(target, remote_dir=str(locked / "sub"))).send(
                    package_dir, files
                )
        finally:
            locked.chmod(0o755)
            (locked / PACKAGE).chmod(0o755)

    assert "нет прав на запись в каталог" in refused.value.reason_ru
    assert f"{locked}/{PACKAGE}" in refused.value.reason_ru
    assert "results.csv" in refused.value.reason_ru
    assert f"нет прав на создание каталога {locked}/sub" in no_mkdir.value.reason_ru


@pytest.fixture
def tiny_disk(server: SshServer, request: pytest.FixtureRequest) -> Iterator[Path]:
    """A 512 KiB tmpfs inside the server's data directory."""
    mount_point = server.data / f"tiny-{request.node.name}"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root/CAP_SYS_ADMIN): {mounted.stderr}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=False, capture_output=True)


def test_a_full_disk_on_the_server_is_refused_not_retried(
    server: SshServer, tiny_disk: Path, tmp_path: Path
) -> None:
    package_dir, files = make_package(tmp_path, {BIG: os.urandom(1024 * 1024)})
    sleeps: list[float] = []
    target = make_target(server, tiny_disk / "incoming", attempts=3)

    with pytest.raises(UploadRefused) as refused:
        SftpTransport(target, sleep=sleeps.append).send(package_dir, files)

    assert "нет места" in refused.value.reason_ru
    assert BIG in refused.value.reason_ru
    assert sleeps == []
    assert not (tiny_disk / "incoming" / PACKAGE / BIG).exists()
    assert not (tiny_disk / "incoming" / PACKAGE / "manifest.json").exists()


def test_fetch_return_is_none_until_the_receipt_appears(
    server: SshServer, remote_dir: Path
) -> None:
    transport = SftpTransport(make_target(server, remote_dir))
    name = f"{PACKAGE}.receipt.json"

    assert transport.fetch_return(name) is None  # no returns directory yet
    returns = remote_dir.parent / "returns"
    returns.mkdir(parents=True)
    assert transport.fetch_return(name) is None
    receipt = json.dumps({"package": PACKAGE, "status": "accepted"}, ensure_ascii=False).encode()
    (returns / name).write_bytes(receipt)

    assert transport.fetch_return(name) == receipt
