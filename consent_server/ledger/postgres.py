"""The ledger on PostgreSQL: the append path, and the auditors' CSV written by the server.

Writers queue on the row lock of the one chain-head row. The append is one statement: the UPDATE
of the head takes the lock and computes the event's hash in the server from the parts of
chain.hash_parts; the event's insert and the state's upsert ride on it as data-modifying CTEs
(which always run to completion). Autocommitted, the lock is held for no client round trip.
"""
import codecs
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import psycopg
from psycopg import sql
from sqlalchemy import (
    LargeBinary,
    Text,
    bindparam,
    cast,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import psycopg as psycopg_dialect
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from .. import database
from ..models import EVENTS, HEAD, STATE, STATE_FIELDS, THE_HEAD, utcnow
from .chain import hash_parts
from .events import NO_HEAD, Writer, decided

DIALECT = psycopg_dialect.dialect()
PIECE = 256 * 1024  # bytes gathered before a piece of a CSV export is sent


def _append_in_one_statement():
    """Move the head, insert the event and upsert the state, in one statement."""

    def part(name):  # UTF-8 bytes from the app, so the server's encoding does not matter
        return bindparam(name, type_=LargeBinary)

    def ascii_bytes(value):
        return func.convert_to(value, literal_column("'UTF8'"))

    chained = (part("pre").op("||")(ascii_bytes(HEAD.c.hash)).op("||")(part("mid"))
               .op("||")(ascii_bytes(cast(HEAD.c.seq + 1, Text))).op("||")(part("post")))
    new_hash = func.encode(func.sha256(chained), literal_column("'hex'"))
    head = (update(HEAD).where(THE_HEAD)
            .values(seq=HEAD.c.seq + 1, prev_hash=HEAD.c.hash, hash=new_hash)
            .returning(HEAD.c.seq, HEAD.c.prev_hash, HEAD.c.hash).cte("head"))
    values = {c.name: bindparam(c.name, type_=c.type) for c in EVENTS.columns}
    values.update(seq=head.c.seq, prev_hash=head.c.prev_hash, hash=head.c.hash)
    event = insert(EVENTS).from_select(list(values), select(*values.values())).cte("new_event")
    state_values = {"subject": values["subject"], "first_at": values["recorded_at"],
                    **{key: values[key] for key in STATE_FIELDS}}
    state = postgresql.insert(STATE).from_select(list(state_values),
                                                 select(*state_values.values()))
    state = state.on_conflict_do_update(index_elements=[STATE.c.subject],
                                        set_={key: state.excluded[key] for key in STATE_FIELDS})
    return (select(head.c.seq, head.c.prev_hash, head.c.hash)
            .add_cte(event).add_cte(state.cte("new_state")))


def _compiled(statement) -> tuple[str, dict]:
    """A Core statement as psycopg SQL, with the constants its compiler bound."""
    compiled = statement.compile(dialect=DIALECT)
    return str(compiled), {k: v for k, v in compiled.params.items() if v is not None}


APPEND, APPEND_CONSTANTS = _compiled(_append_in_one_statement())
LOCK_HEAD, _ = _compiled(select(HEAD.c.seq, HEAD.c.hash).where(THE_HEAD).with_for_update())
STATE_UNDER_LOCK, _ = _compiled(select(STATE.c.choices, STATE.c.action)
                                .where(STATE.c.subject == bindparam("subject")))


class PostgresWriter(Writer):
    """Chains in the server: every append moves the head in the same statement."""

    def __init__(self, conn, seq: int, hash: str, run=None):
        super().__init__(conn, seq, hash)
        self.run = run or conn.exec_driver_sql

    def append(self, event: dict, now: datetime | None = None) -> dict:
        if event["action"] is None:  # decided here, under the lock (two tabs at once stay apart)
            event = decided(event, self.run(STATE_UNDER_LOCK,
                                            {"subject": event["subject"]}).fetchone())
        event = {**event, "recorded_at": now or utcnow()}
        pre, mid, post = (part.encode() for part in hash_parts(event))
        head = self.run(APPEND, {**APPEND_CONSTANTS, **event, "pre": pre, "mid": mid,
                                 "post": post}).fetchone()
        if head is None:
            raise RuntimeError(NO_HEAD)
        self.seq, prev_hash, self.hash = head
        return {**event, "seq": self.seq, "prev_hash": prev_hash, "hash": self.hash}


class PostgresLedger:
    """The ledger's two ways to write on PostgreSQL."""

    writer = PostgresWriter

    def __init__(self, engine: Engine):
        self.engine = engine

    def append(self, event: dict) -> dict:
        """One event, autocommitted on the psycopg connection.

        Why straight on the driver: SQLAlchemy's work per statement was a tenth of a consent's
        CPU. The connection goes back to the pool as it came (not autocommitting), or is thrown
        away when it cannot be reset.
        """
        with self.engine.connect() as conn:
            raw: psycopg.Connection = conn.connection.dbapi_connection
            raw.autocommit = True
            try:
                writer = self.writer(conn, 0, "", run=raw.execute)
                if event["action"] is not None:
                    return writer.append(event)
                # The action depends on the state: lock the head, read the state, then append
                # (three round trips inside the lock instead of none, only for decided actions).
                with raw.transaction():
                    raw.execute(LOCK_HEAD)
                    return writer.append(event)
            except psycopg.IntegrityError as error:  # as SQLAlchemy would raise it
                raise IntegrityError(APPEND, None, error) from error
            finally:
                if raw.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
                    raw.autocommit = False
                else:  # broken or busy: never hand an autocommitting connection back
                    conn.invalidate()

    @contextmanager
    def locked(self) -> Iterator[PostgresWriter]:
        """Several writes under the chain lock (SELECT ... FOR UPDATE of the head), in one
        transaction (database.writing)."""
        with database.writing(self.engine) as conn:
            head = conn.exec_driver_sql(LOCK_HEAD).first()
            if head is None:
                raise RuntimeError(NO_HEAD)
            yield self.writer(conn, *head)

    def copy_csv(self, query) -> Iterator[tuple[int, str]]:
        """The auditors' CSV written by the server (COPY ... TO STDOUT), passed through.

        Why: parsing every value into Python and formatting it again cost four fifths of an
        export's time. COPY quotes as RFC 4180 does (fields with a comma, quote, CR or LF); its
        records end in LF, not CRLF. COPY takes no bound parameters, so psycopg's client-side
        cursor writes the filter values into the query, quoted as literals.
        """
        compiled = query.compile(dialect=DIALECT)
        raw = self.engine.raw_connection()
        try:
            driver = raw.driver_connection
            statement = psycopg.ClientCursor(driver).mogrify(str(compiled), compiled.params)
            copy_sql = sql.SQL("COPY ({}) TO STDOUT (FORMAT csv, HEADER)").format(
                sql.SQL(statement))
            decode = codecs.getincrementaldecoder("utf-8")().decode
            pending, size = [], 0
            with driver.cursor() as cursor, cursor.copy(copy_sql) as copy:
                for data in copy:  # one message per row: gathered, or each would be a send()
                    pending.append(bytes(data))
                    size += len(data)
                    if size >= PIECE:
                        text = decode(b"".join(pending))
                        pending, size = [], 0
                        yield text.count("\n"), text  # for progress bars: near enough
            text = decode(b"".join(pending), final=True)
            yield text.count("\n"), text
            driver.commit()
        finally:
            raw.close()
