"""Unit of work over the regional database: everything in one transaction, rolled back unless
`commit()` was called."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Self

from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from tasks.errors import RegistryError

if TYPE_CHECKING:
    from config.settings import Settings

__all__ = ["UnitOfWork", "open_unit_of_work"]


class UnitOfWork:
    """`with UnitOfWork(db.session_factory) as uow: ...; uow.commit()`."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._session_factory = session_factory
        self._session: Session | None = None

    @property
    def session(self) -> Session:
        if self._session is None:
            raise RegistryError("unit of work used outside its `with` block")
        return self._session

    def __enter__(self) -> Self:
        self._session = self._session_factory()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.session.rollback()  # a no-op after commit(); undoes everything otherwise
        finally:
            self.session.close()
            self._session = None
        if isinstance(exc, SQLAlchemyError):
            # The statement's parameters (СНИЛС, names) must not reach logs or tracebacks:
            # `from None` keeps the original out of printed tracebacks.
            raise RegistryError(f"the database refused: {_safe_reason(exc)}") from None

    def commit(self) -> None:
        try:
            self.session.commit()
        except SQLAlchemyError as exc:
            self.session.rollback()
            raise RegistryError(f"commit refused by the database: {_safe_reason(exc)}") from None

    def rollback(self) -> None:
        self.session.rollback()


def _safe_reason(exc: SQLAlchemyError) -> str:
    """The database's reason without the statement's parameters or PostgreSQL's DETAIL line,
    which would carry the offending values (СНИЛС, names) into logs."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        return str(exc.orig).splitlines()[0]
    return type(exc).__name__


@contextmanager
def open_unit_of_work(settings: Settings) -> Iterator[UnitOfWork]:
    """The regional database for one task: bootstrapped, one unit of work, disposed after."""
    from tasks.adapters.database import bootstrap

    database = bootstrap(settings)
    try:
        with UnitOfWork(database.session_factory) as uow:
            yield uow
    finally:
        database.dispose()
