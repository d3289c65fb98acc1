"""The topics vault: a session's topics sealed with AES-GCM in `<out>/topics/vault/`, outside the
web root, until the publish flow opens them at the instant.

The key comes from `RCOI_TOPICS_KEY`; without it (the demo) one is generated into
`<out>/secrets/topics.key` with mode 0600. The key is never logged; its fingerprint (a hash
prefix) names it in messages, so a wrong key is told apart from a damaged file.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import ValidationError

from config import TOPICS_DIR
from config.settings import Settings
from tasks.domain.publish import TopicSet, parse_topic_set
from tasks.errors import DataError, VaultError

__all__ = [
    "LoadResult",
    "TopicsKey",
    "key_path",
    "load_topics",
    "open_topics",
    "read_topic_file",
    "seal",
    "sealed_path",
    "topic_file",
    "topics_key",
    "unseal",
    "vault_dir",
    "write_atomically",
]

_log = logging.getLogger(__name__)

FORMAT = "rcoi-topics-vault/1"
_NONCE_BYTES = 12


class TopicsKey:
    """A 256-bit AES key; its repr shows the fingerprint only."""

    __slots__ = ("_raw", "generated", "source")

    def __init__(self, raw: bytes, source: str, generated: bool = False) -> None:
        if len(raw) != 32:
            raise VaultError(f"the topics key from {source} is not 32 bytes")
        self._raw = raw
        self.source = source
        self.generated = generated

    @property
    def raw(self) -> bytes:
        return self._raw

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(b"rcoi-topics-key:" + self._raw).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"TopicsKey(fingerprint={self.fingerprint}, source={self.source})"


def key_path(settings: Settings) -> Path:
    return settings.out_dir / "secrets" / "topics.key"


def vault_dir(settings: Settings) -> Path:
    return settings.out_dir / "topics" / "vault"


def sealed_path(settings: Settings, plan_id: str, session_id: str) -> Path:
    return vault_dir(settings) / plan_id / f"{session_id}.sealed"


def topic_file(session_id: str) -> Path:
    """The shipped demo topics of a session: config/topics/<session>.yaml."""
    return TOPICS_DIR / f"{session_id}.yaml"


def _decode(text: str, source: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text.strip().encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise VaultError(f"the topics key in {source} is not URL-safe base64") from None


def _private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)


def topics_key(settings: Settings, *, create: bool = False) -> TopicsKey:
    """The vault's key: the setting, else the demo key file; with `create`, a missing key file
    is generated (mode 0600). Opening topics never creates a key: a new one opens nothing."""
    if settings.topics_key is not None:
        return TopicsKey(_decode(settings.topics_key.get_secret_value(), "RCOI_TOPICS_KEY"), "env")
    path = key_path(settings)
    if path.exists():
        if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            _log.warning("topics key file %s is readable by others: chmod 600 it", path)
        return TopicsKey(_decode(path.read_text(encoding="ascii"), str(path)), str(path))
    if not create:
        raise VaultError(
            f"no topics key: set RCOI_TOPICS_KEY, or load the topics first "
            f"(rcoi topics load), which generates {path}"
        )
    _private_dir(path.parent)
    raw = AESGCM.generate_key(bit_length=256)
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another loader won the race: use its key
        return topics_key(settings)
    with os.fdopen(handle, "w", encoding="ascii") as file:
        file.write(base64.urlsafe_b64encode(raw).decode("ascii") + "\n")
    key = TopicsKey(raw, str(path), generated=True)
    _log.warning(
        "no RCOI_TOPICS_KEY set: generated a topics key into %s (mode 0600, fingerprint %s); "
        "demo only, set RCOI_TOPICS_KEY in production",
        path,
        key.fingerprint,
    )
    return key


def write_atomically(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Readers see the whole old file or the whole new one: a temporary file, then a rename."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _associated(plan_id: str, session_id: str) -> bytes:
    """Binds a sealed file to its plan and session: moved elsewhere, it does not open."""
    return f"{FORMAT}:{plan_id}:{session_id}".encode()


def seal(topics: TopicSet, plan_id: str, key: TopicsKey) -> bytes:
    nonce = os.urandom(_NONCE_BYTES)
    plaintext = topics.model_dump_json().encode("utf-8")
    ciphertext = AESGCM(key.raw).encrypt(nonce, plaintext, _associated(plan_id, topics.session))
    envelope = {
        "format": FORMAT,
        "plan": plan_id,
        "session": topics.session,
        "key": key.fingerprint,
        "nonce": base64.b64encode(nonce).decode("ascii"),
        "ciphertext": base64.b64encode(ciphertext).decode("ascii"),
    }
    return (json.dumps(envelope, indent=1) + "\n").encode("ascii")


def unseal(data: bytes, plan_id: str, session_id: str, key: TopicsKey, where: str) -> TopicSet:
    try:
        envelope: dict[str, Any] = json.loads(data)
        nonce = base64.b64decode(envelope["nonce"], validate=True)
        ciphertext = base64.b64decode(envelope["ciphertext"], validate=True)
        fingerprint = str(envelope["key"])
        sealed_for = (envelope["format"], envelope["plan"], envelope["session"])
    except (ValueError, KeyError, TypeError) as exc:
        raise VaultError(f"{where} is not a sealed topics file: {type(exc).__name__}") from None
    if sealed_for != (FORMAT, plan_id, session_id):
        raise VaultError(
            f"{where} holds {sealed_for[1]}/{sealed_for[2]}, not {plan_id}/{session_id}"
        )
    if fingerprint != key.fingerprint:
        raise VaultError(
            f"wrong topics key: {where} was sealed with key {fingerprint}, "
            f"the key from {key.source} is {key.fingerprint}"
        )
    try:
        plaintext = AESGCM(key.raw).decrypt(nonce, ciphertext, _associated(plan_id, session_id))
    except InvalidTag:
        raise VaultError(f"{where} is damaged or was altered: it does not authenticate") from None
    try:
        return TopicSet.model_validate_json(plaintext)
    except ValidationError as exc:
        raise VaultError(f"{where}: the opened topics do not match the schema: {exc}") from None


@dataclass(frozen=True, slots=True)
class LoadResult:
    path: Path
    status: str  # stored | unchanged | replaced
    topics: int
    directions: int
    key: TopicsKey


def read_topic_file(path: Path, session_id: str, procedure: str | None) -> TopicSet:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"нет файла тем {path}") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise DataError(f"файл тем {path} не читается: {exc}") from None
    if not isinstance(document, dict):
        raise DataError(f"файл тем {path}: ожидается словарь YAML")
    return parse_topic_set(document, session_id, procedure)


def load_topics(
    settings: Settings,
    plan_id: str,
    session_id: str,
    procedure: str | None = None,
    source: Path | None = None,
) -> LoadResult:
    """Seal the topics of `source` (default: the shipped file of the session) into the vault.
    Idempotent: the same topics again leave the sealed file as it is."""
    path = source or topic_file(session_id)
    topics = read_topic_file(path, session_id, procedure)
    key = topics_key(settings, create=True)
    target = sealed_path(settings, plan_id, session_id)
    status = "stored"
    if target.exists():
        if unseal(target.read_bytes(), plan_id, session_id, key, str(target)) == topics:
            return LoadResult(target, "unchanged", topics.count, len(topics.directions), key)
        status = "replaced"
    _private_dir(vault_dir(settings))
    _private_dir(target.parent)
    write_atomically(target, seal(topics, plan_id, key), mode=0o600)
    _log.info(
        "sealed %d topics of %s/%s into %s (%s)", topics.count, plan_id, session_id, target, status
    )
    return LoadResult(target, status, topics.count, len(topics.directions), key)


def open_topics(settings: Settings, plan_id: str, session_id: str) -> TopicSet:
    """The sealed topics, decrypted: only the publish stage calls this, at the instant."""
    target = sealed_path(settings, plan_id, session_id)
    try:
        data = target.read_bytes()
    except FileNotFoundError:
        raise VaultError(
            f"no topics sealed for {plan_id}/{session_id} in {vault_dir(settings)}: "
            f"rcoi topics load --plan {plan_id} --session {session_id}"
        ) from None
    return unseal(data, plan_id, session_id, topics_key(settings), str(target))
