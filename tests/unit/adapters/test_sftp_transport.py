"""The local drop transport, the upload algorithm both transports share, and the pure helpers
of tasks/adapters/sftp.py (no sshd here: see tests/integration/test_sftp_upload.py)."""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import socket
from pathlib import Path
from typing import Any

import paramiko
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import SecretStr

from config.settings import Settings
from tasks.adapters import sftp
from tasks.adapters.sftp import (
    LocalDropTransport,
    PackageFile,
    SftpTarget,
    SftpTransport,
    is_transient,
    package_file,
    temp_path,
    transport_from_settings,
)
from tasks.errors import (
    HostKeyRefused,
    TransientError,
    UploadError,
    UploadInterrupted,
    UploadRefused,
)

PACKAGE = "42_2017-12-06_3f9c2a1b"
IMAGE = "images/4201001/420100100017.tif"


def make_package(root: Path, contents: dict[str, bytes]) -> tuple[Path, list[PackageFile]]:
    package_dir = root / "packages" / PACKAGE
    for path, data in contents.items():
        local = package_dir / path
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(data)
    files = [package_file(package_dir, path) for path in sorted(contents)]
    listing = [{"path": f.path, "size": f.size, "sha256": f.sha256} for f in files]
    (package_dir / "manifest.json").write_text(json.dumps({"files": listing}), encoding="utf-8")
    return package_dir, files


@pytest.fixture
def package(tmp_path: Path) -> tuple[Path, list[PackageFile]]:
    return make_package(
        tmp_path,
        {
            "results.csv": b"region;session;work_code\n42;2017-12-06;420100100017\n",
            "pages.csv": b"work_code;position\n420100100017;1\n",
            IMAGE: os.urandom(200_000),
        },
    )


@pytest.fixture
def drop(tmp_path: Path) -> Path:
    return tmp_path / "federal"


def arrived(drop: Path) -> Path:
    return drop / "incoming" / PACKAGE


# --- LocalDropTransport ------------------------------------------------------------------------


def test_the_local_drop_writes_every_file_and_the_manifest_without_temp_files(
    package: tuple[Path, list[PackageFile]], drop: Path
) -> None:
    package_dir, files = package

    report = LocalDropTransport(drop).send(package_dir, files)

    for entry in [*files, package_file(package_dir, "manifest.json")]:
        assert (arrived(drop) / entry.path).read_bytes() == (package_dir / entry.path).read_bytes()
    assert list(drop.rglob("*.part")) == []
    assert report.package == PACKAGE
    assert report.sent == (*(f.path for f in files), "manifest.json")
    assert report.skipped == report.resumed == ()
    assert (
        report.bytes_sent
        == sum(f.size for f in files) + (package_dir / "manifest.json").stat().st_size
    )


def test_the_local_drop_target_is_a_file_uri_of_the_incoming_folder(drop: Path) -> None:
    assert LocalDropTransport(drop).target == (drop / "incoming").resolve().as_uri()
    assert LocalDropTransport(drop).target.startswith("file:///")


def test_a_second_send_to_the_local_drop_skips_everything(
    package: tuple[Path, list[PackageFile]], drop: Path
) -> None:
    package_dir, files = package
    transport = LocalDropTransport(drop)
    transport.send(package_dir, files)

    again = transport.send(package_dir, files)

    assert again.sent == ()
    assert again.bytes_sent == 0
    assert again.skipped == (*(f.path for f in files), "manifest.json")


def test_a_file_already_complete_is_skipped_and_left_untouched(
    package: tuple[Path, list[PackageFile]], drop: Path
) -> None:
    package_dir, files = package
    (arrived(drop) / "images/4201001").mkdir(parents=True)
    done = arrived(drop) / IMAGE
    done.write_bytes((package_dir / IMAGE).read_bytes())
    before = done.stat()

    report = LocalDropTransport(drop).send(package_dir, files)

    assert report.skipped == (IMAGE,)
    assert IMAGE not in report.sent
    assert (done.stat().st_ino, done.stat().st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_a_partial_temp_file_is_continued_from_its_size(
    package: tuple[Path, list[PackageFile]], drop: Path
) -> None:
    package_dir, files = package
    data = (package_dir / IMAGE).read_bytes()
    (arrived(drop) / "images/4201001").mkdir(parents=True)
    (arrived(drop) / temp_path(IMAGE)).write_bytes(data[:120_000])

    report = LocalDropTransport(drop).send(package_dir, files)

    assert report.resumed == (IMAGE,)
    assert IMAGE in report.sent
    assert (arrived(drop) / IMAGE).read_bytes() == data
    others = sum(f.size for f in files if f.path != IMAGE)
    manifest_size = (package_dir / "manifest.json").stat().st_size
    assert report.bytes_sent == others + len(data) - 120_000 + manifest_size
    assert list(drop.rglob("*.part")) == []


def test_a_partial_temp_file_with_wrong_bytes_is_restarted_from_zero(
    package: tuple[Path, list[PackageFile]], drop: Path
) -> None:
    package_dir, files = package
    (arrived(drop) / "images/4201001").mkdir(parents=True)
    (arrived(drop) / temp_path(IMAGE)).write_bytes(b"\0" * 1000)

    report = LocalDropTransport(drop).send(package_dir, files)

    assert report.resumed == ()
    assert IMAGE in report.sent
    assert (arrived(drop) / IMAGE).read_bytes() == (package_dir / IMAGE).read_bytes()


def test_a_temp_file_longer_than_the_file_is_restarted(
    package: tuple[Path, list[PackageFile]], drop: Path
) -> None:
    package_dir, files = package
    (arrived(drop) / "images/4201001").mkdir(parents=True)
    (arrived(drop) / temp_path(IMAGE)).write_bytes(os.urandom(300_000))

    report = LocalDropTransport(drop).send(package_dir, files)

    assert report.resumed == ()
    assert (arrived(drop) / IMAGE).read_bytes() == (package_dir / IMAGE).read_bytes()


def test_a_wrong_file_under_the_final_name_is_replaced(
    package: tuple[Path, list[PackageFile]], drop: Path
) -> None:
    package_dir, files = package
    arrived(drop).mkdir(parents=True)
    (arrived(drop) / "results.csv").write_bytes(b"stale")

    report = LocalDropTransport(drop).send(package_dir, files)

    assert "results.csv" in report.sent
    assert (arrived(drop) / "results.csv").read_bytes() == (
        package_dir / "results.csv"
    ).read_bytes()


def test_the_manifest_is_published_last(
    package: tuple[Path, list[PackageFile]], drop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package_dir, files = package
    published: list[str] = []
    real_replace = os.replace

    def recording_replace(src: Any, dst: Any) -> None:
        published.append(Path(dst).relative_to(arrived(drop)).as_posix())
        real_replace(src, dst)

    monkeypatch.setattr("tasks.adapters.sftp.os.replace", recording_replace)

    LocalDropTransport(drop).send(package_dir, files)

    assert published == [*(f.path for f in files), "manifest.json"]


def test_no_manifest_appears_when_a_file_cannot_be_written(
    package: tuple[Path, list[PackageFile]], drop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package_dir, files = package
    arrived(drop).mkdir(parents=True)
    (arrived(drop) / "manifest.json").write_text("{}")  # a stale one from another version
    real_write = sftp._LocalStore.write

    def full_disk(store: Any, path: str, source: Path, offset: int) -> None:
        if path.endswith(".tif.part"):
            raise sftp._Refused("write", path, OSError(errno.ENOSPC, "No space left on device"))
        real_write(store, path, source, offset)

    monkeypatch.setattr(sftp._LocalStore, "write", full_disk)

    with pytest.raises(UploadRefused) as refused:
        LocalDropTransport(drop).send(package_dir, files)

    assert "нет места" in refused.value.reason_ru
    assert IMAGE in refused.value.reason_ru
    assert not (arrived(drop) / "manifest.json").exists()
    assert not (arrived(drop) / IMAGE).exists()
    assert not is_transient(refused.value)


def test_a_permission_error_names_the_directory(
    package: tuple[Path, list[PackageFile]], drop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package_dir, files = package

    def denied(store: Any, path: str, source: Path, offset: int) -> None:
        raise sftp._Refused("write", path, PermissionError(errno.EACCES, "Permission denied"))

    monkeypatch.setattr(sftp._LocalStore, "write", denied)

    with pytest.raises(UploadRefused) as refused:
        LocalDropTransport(drop).send(package_dir, files)

    assert f"нет прав на запись в каталог {PACKAGE}" in refused.value.reason_ru


def test_a_read_back_that_differs_is_sent_once_more_then_refused(
    package: tuple[Path, list[PackageFile]], drop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package_dir, files = package
    writes: list[str] = []
    real_write = sftp._LocalStore.write

    def corrupting(store: Any, path: str, source: Path, offset: int) -> None:
        real_write(store, path, source, offset)
        if path.endswith(".tif.part"):
            writes.append(path)
            with (drop / "incoming" / path).open("r+b") as handle:
                handle.write(b"X")  # a server that flips a byte

    monkeypatch.setattr(sftp._LocalStore, "write", corrupting)

    with pytest.raises(UploadRefused) as refused:
        LocalDropTransport(drop).send(package_dir, files)

    assert len(writes) == 2
    assert "SHA-256" in refused.value.reason_ru
    assert not (arrived(drop) / IMAGE).exists()
    assert not (arrived(drop) / temp_path(IMAGE)).exists()


def test_one_corrupted_upload_is_repaired_by_the_second(
    package: tuple[Path, list[PackageFile]], drop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package_dir, files = package
    corrupted: list[str] = []
    real_write = sftp._LocalStore.write

    def corrupting_once(store: Any, path: str, source: Path, offset: int) -> None:
        real_write(store, path, source, offset)
        if path.endswith(".tif.part") and not corrupted:
            corrupted.append(path)
            with (drop / "incoming" / path).open("ab") as handle:
                handle.write(b"extra")

    monkeypatch.setattr(sftp._LocalStore, "write", corrupting_once)

    report = LocalDropTransport(drop).send(package_dir, files)

    assert IMAGE in report.sent
    assert (arrived(drop) / IMAGE).read_bytes() == (package_dir / IMAGE).read_bytes()


def test_a_local_file_that_differs_from_its_manifest_entry_is_not_sent(
    package: tuple[Path, list[PackageFile]], drop: Path
) -> None:
    package_dir, files = package
    (package_dir / "results.csv").write_bytes(b"changed after packaging\n")

    with pytest.raises(UploadError) as failed:
        LocalDropTransport(drop).send(package_dir, files)

    assert "не совпадает с манифестом" in failed.value.reason_ru
    assert not arrived(drop).exists()
    assert not is_transient(failed.value)


def test_paths_outside_the_package_are_rejected(
    package: tuple[Path, list[PackageFile]], drop: Path
) -> None:
    package_dir, files = package
    for bad in ("../escape.csv", "/abs.csv", "images//x.tif", "images\\x.tif"):
        with pytest.raises(ValueError, match="package path"):
            LocalDropTransport(drop).send(package_dir, [*files, PackageFile(bad, 1, "0" * 64)])


def test_fetch_return_is_none_until_the_receipt_is_there(drop: Path) -> None:
    transport = LocalDropTransport(drop)
    name = f"{PACKAGE}.receipt.json"
    assert transport.fetch_return(name) is None

    (drop / "returns").mkdir(parents=True)
    (drop / "returns" / name).write_bytes(b'{"status": "accepted"}')

    assert transport.fetch_return(name) == b'{"status": "accepted"}'
    with pytest.raises(ValueError, match="file name"):
        transport.fetch_return("../incoming/x")


# --- helpers and settings ----------------------------------------------------------------------


def test_temp_path_hides_the_file_in_its_own_directory() -> None:
    assert temp_path("results.csv") == ".results.csv.part"
    assert temp_path("images/4201001/1.tif") == "images/4201001/.1.tif.part"
    assert temp_path("/srv/incoming/p/manifest.json") == "/srv/incoming/p/.manifest.json.part"


def test_package_file_describes_a_file_on_disk(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.tif").write_bytes(b"abc")

    assert package_file(tmp_path, "images/a.tif") == PackageFile(
        "images/a.tif", 3, hashlib.sha256(b"abc").hexdigest()
    )


class _Flaky(TransientError):
    pass


def host_key() -> paramiko.PKey:
    text = (
        Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
        .decode("ascii")
    )
    return paramiko.Ed25519Key(file_obj=io.StringIO(text))


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (UploadInterrupted("cut", "обрыв"), True),
        (UploadRefused("denied", "нет прав"), False),
        (HostKeyRefused("changed", "ключ"), False),
        (UploadError("local", "локально"), False),
        (_Flaky(), True),
        (paramiko.AuthenticationException("no"), False),
        (paramiko.BadHostKeyException("[h]:22", host_key(), host_key()), False),
        (paramiko.SSHException("Error reading SSH protocol banner"), True),
        (paramiko.ssh_exception.NoValidConnectionsError({("127.0.0.1", 22): OSError()}), True),
        (EOFError(), True),
        (TimeoutError(), True),
        (ConnectionResetError(errno.ECONNRESET, "reset"), True),
        (OSError(errno.ENETUNREACH, "unreachable"), True),
        (OSError(errno.EACCES, "Permission denied"), False),
        (OSError("Failure"), False),
        (ValueError("bug"), False),
    ],
)
def test_is_transient_retries_only_what_may_pass(exc: BaseException, expected: bool) -> None:
    assert is_transient(exc) is expected


def test_without_an_sftp_host_the_settings_give_the_local_drop(tmp_path: Path) -> None:
    transport = transport_from_settings(Settings(out_dir=tmp_path))

    assert isinstance(transport, LocalDropTransport)
    assert transport.target == (tmp_path / "federal" / "incoming").resolve().as_uri()


def test_with_an_sftp_host_the_settings_give_sftp_and_keep_the_passphrase_out_of_sight(
    tmp_path: Path,
) -> None:
    settings = Settings(
        out_dir=tmp_path,
        federal_sftp_host="sftp.fct.example",
        federal_sftp_port=2222,
        federal_sftp_username="rcoi42",
        federal_sftp_key_path=tmp_path / "id_ed25519",
        federal_sftp_key_passphrase=SecretStr("s3cret-phrase"),
        federal_sftp_known_hosts=tmp_path / "known_hosts",
    )

    transport = transport_from_settings(settings)

    assert isinstance(transport, SftpTransport)
    assert transport.target == "sftp://rcoi42@sftp.fct.example:2222/incoming"
    assert transport.config.key_passphrase == "s3cret-phrase"
    assert "s3cret" not in repr(transport.config)
    assert "s3cret" not in transport.target


# --- SFTP without a server: retries, key errors, the rename fallback ---------------------------


def client_key(path: Path) -> Path:
    path.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
    )
    return path


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # nothing listens once the probe is closed


def target_for(tmp_path: Path, **changes: Any) -> SftpTarget:
    (tmp_path / "known_hosts").touch()
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": closed_port(),
        "username": "rcoi42",
        "key_path": client_key(tmp_path / "id_ed25519"),
        "key_passphrase": None,
        "known_hosts": tmp_path / "known_hosts",
        "remote_dir": "incoming",
        "returns_dir": "returns",
        "concurrency": 2,
        "timeout_s": 2.0,
        "attempts": 4,
        "backoff_s": 1.0,
        **changes,
    }
    return SftpTarget(**values)


def test_a_server_that_does_not_answer_is_retried_with_exponential_backoff(
    package: tuple[Path, list[PackageFile]], tmp_path: Path
) -> None:
    package_dir, files = package
    sleeps: list[float] = []

    with pytest.raises(UploadInterrupted) as interrupted:
        SftpTransport(target_for(tmp_path), sleep=sleeps.append).send(package_dir, files)

    assert sleeps == [1.0, 2.0, 4.0]
    assert "попыток: 4" in interrupted.value.reason_ru
    assert is_transient(interrupted.value)


def test_a_refused_login_is_not_retried(
    package: tuple[Path, list[PackageFile]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package_dir, files = package
    sleeps: list[float] = []

    def refuse(connection: Any) -> Any:
        raise paramiko.AuthenticationException("Authentication failed.")

    monkeypatch.setattr(sftp._Connection, "_open", refuse)

    with pytest.raises(UploadRefused) as refused:
        SftpTransport(target_for(tmp_path), sleep=sleeps.append).send(package_dir, files)

    assert sleeps == []
    assert "отклонил вход пользователя rcoi42" in refused.value.reason_ru


def test_an_unreadable_client_key_is_refused_without_the_passphrase_in_the_message(
    package: tuple[Path, list[PackageFile]], tmp_path: Path
) -> None:
    package_dir, files = package
    target = target_for(tmp_path, key_path=tmp_path / "missing_key", key_passphrase="s3cret")

    with pytest.raises(UploadRefused) as refused:
        SftpTransport(target, sleep=lambda _: None).send(package_dir, files)

    assert "не читается" in refused.value.reason_ru
    assert "s3cret" not in str(refused.value) + refused.value.reason_ru


def test_a_missing_known_hosts_file_refuses_the_connection(
    package: tuple[Path, list[PackageFile]], tmp_path: Path
) -> None:
    package_dir, files = package
    target = target_for(tmp_path, known_hosts=tmp_path / "nowhere" / "known_hosts")

    with pytest.raises(HostKeyRefused):
        SftpTransport(target, sleep=lambda _: None).send(package_dir, files)


class FakeSftpFile(io.BytesIO):
    def __init__(self, files: dict[str, bytes], path: str) -> None:
        super().__init__(files[path])

    def prefetch(self) -> None:
        pass


class FakeSftp:
    """An SFTP server without OpenSSH's posix-rename extension (plain rename refuses an
    existing target); records what it was asked to do."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.calls: list[str] = []

    def stat(self, path: str) -> paramiko.SFTPAttributes:
        if path not in self.files:
            raise FileNotFoundError(errno.ENOENT, "No such file")
        attributes = paramiko.SFTPAttributes()
        attributes.st_size = len(self.files[path])
        attributes.st_mode = 0o100644
        return attributes

    def open(self, path: str, mode: str) -> FakeSftpFile:
        if path not in self.files:
            raise FileNotFoundError(errno.ENOENT, "No such file")
        return FakeSftpFile(self.files, path)

    def posix_rename(self, old: str, new: str) -> None:
        self.calls.append("posix_rename")
        raise OSError("Operation unsupported")

    def rename(self, old: str, new: str) -> None:
        self.calls.append(f"rename {old} {new}")
        if new in self.files:
            raise OSError("Failure")
        self.files[new] = self.files.pop(old)

    def remove(self, path: str) -> None:
        self.calls.append(f"remove {path}")
        del self.files[path]


class FakeClient:
    def __init__(self, active: bool = True) -> None:
        self.active = active

    def get_transport(self) -> Any:
        return self

    def is_active(self) -> bool:
        return self.active


def entry(data: bytes) -> PackageFile:
    return PackageFile("a.tif", len(data), hashlib.sha256(data).hexdigest())


def test_without_posix_rename_a_temp_file_is_renamed_plainly() -> None:
    fake = FakeSftp({"d/.a.tif.part": b"good"})
    store = sftp._SftpStore(FakeClient(), fake, sftp._Tally())

    store.publish("d/.a.tif.part", "d/a.tif", entry(b"good"))

    assert fake.files == {"d/a.tif": b"good"}
    assert fake.calls == ["posix_rename", "rename d/.a.tif.part d/a.tif"]


def test_without_posix_rename_an_identical_target_is_kept_and_the_temp_dropped() -> None:
    fake = FakeSftp({"d/.a.tif.part": b"good", "d/a.tif": b"good"})
    store = sftp._SftpStore(FakeClient(), fake, sftp._Tally())

    store.publish("d/.a.tif.part", "d/a.tif", entry(b"good"))

    assert fake.files == {"d/a.tif": b"good"}
    assert fake.calls == ["posix_rename", "remove d/.a.tif.part"]


def test_without_posix_rename_a_stale_target_is_replaced() -> None:
    fake = FakeSftp({"d/.a.tif.part": b"good", "d/a.tif": b"old!"})
    store = sftp._SftpStore(FakeClient(), fake, sftp._Tally())

    store.publish("d/.a.tif.part", "d/a.tif", entry(b"good"))

    assert fake.files == {"d/a.tif": b"good"}
    assert fake.calls == ["posix_rename", "remove d/a.tif", "rename d/.a.tif.part d/a.tif"]


def test_an_sftp_error_on_a_dead_connection_is_a_lost_connection_not_a_refusal() -> None:
    class Closed(FakeSftp):
        def stat(self, path: str) -> paramiko.SFTPAttributes:
            raise OSError("Socket is closed")

    dead = sftp._SftpStore(FakeClient(active=False), Closed({}), sftp._Tally())
    alive = sftp._SftpStore(FakeClient(active=True), Closed({}), sftp._Tally())

    with pytest.raises(ConnectionError) as lost:
        dead.size("d/a.tif")
    assert is_transient(lost.value)
    with pytest.raises(sftp._Refused):
        alive.size("d/a.tif")
