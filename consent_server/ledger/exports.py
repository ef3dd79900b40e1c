"""The ledger for auditors: streamed in sequence order as NDJSON, CSV or JSON, with filters (L-03).

Rows are read in keyset chunks (`seq > last ORDER BY seq LIMIT n`), each in a short read of its
own, up to the head as it was when the export began: memory stays flat whatever the ledger's
size, and no lock or long snapshot holds up consent recording on either database. Every field is
exported, `seq`, `prev_hash` and `hash` included, so the file alone re-verifies (README).
"""
import csv
import json
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import and_, bindparam, func, select, true
from sqlalchemy.engine import Engine

from ..errors import Invalid
from ..models import EVENTS, HEAD, THE_HEAD
from ..vocabulary import Action, Purpose
from . import chain, reading
from .backends import backend

COLUMNS = [c.name for c in EVENTS.columns]  # every column, whatever other changes add
FORMATS = {"ndjson": "application/x-ndjson", "csv": "text/csv; charset=utf-8",
           "json": "application/json"}
ACTIONS = tuple(action.value for action in Action)
CHUNK = 5000


@dataclass(frozen=True)
class Filters:
    """Which events: recorded in [since, until), about a purpose, of an action or subject,
    from a seq, for a site."""

    since: datetime | None = None
    until: datetime | None = None
    purpose: str | None = None
    action: str | None = None
    subject: str | None = None
    from_seq: int | None = None
    site: str | None = None

    def where(self):
        """The filters as one SQL condition."""
        c, terms = EVENTS.c, []
        if self.since is not None:
            terms.append(c.recorded_at >= self.since)
        if self.until is not None:
            terms.append(c.recorded_at < self.until)
        if self.purpose is not None:  # keys are unescaped in canonical JSON: a safe match
            terms.append(c.choices.contains(f'"{self.purpose}":', autoescape=True))
        if self.action is not None:
            terms.append(c.action == self.action)
        if self.subject is not None:
            terms.append(c.subject == self.subject)
        if self.from_seq is not None:
            terms.append(c.seq >= self.from_seq)
        if self.site is not None:
            terms.append(c.site == self.site)
        return and_(true(), *terms)


FIRST_YEAR = 1970  # no consent is older; earlier instants are typing errors (or probes)


def instant(value: str) -> datetime:
    """An ISO 8601 date or date-time; without a zone it is UTC, a date is its midnight UTC.
    ValueError when it is neither, or outside the years FIRST_YEAR to 9999 once in UTC."""
    parsed = datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        parsed = parsed.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59-23:59 is in the year 10000 in UTC
        raise ValueError("out of range") from None
    if parsed.year < FIRST_YEAR:
        raise ValueError("out of range")
    return parsed


def filters(*, purpose: str | None = None, **others) -> Filters:
    """Filters from plain arguments (a subject as the ledger names it); Invalid (422) for an
    unknown purpose."""
    if purpose is not None and purpose not in set(Purpose):
        raise Invalid("Unknown purpose.", {"purpose": [f"Must be one of: {', '.join(Purpose)}."]})
    return Filters(purpose=purpose, **others)


def count(engine: Engine, where: Filters) -> int:
    """How many events an export will hold (for a progress bar)."""
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(EVENTS).where(where.where())).scalar()


def rows(engine: Engine, where: Filters, chunk: int = CHUNK,
         text_booleans: bool = False) -> Iterator[list]:
    """Chunks of matching events (tuples in COLUMNS order, the time in its hashed form, booleans
    as the driver gives them), in sequence order, up to the head as it was when the export began.

    SQLAlchemy's query, compiled once, runs on the driver's own cursor: SQLAlchemy's rows cost
    a tenth of a SQLite export's time. The filters' values go through their columns' bind
    processors as SQLAlchemy would send them (a time in SQLite's stored form).
    """
    with engine.connect() as conn:
        head = conn.execute(select(HEAD.c.seq).where(THE_HEAD)).scalar() or 0
    last = (where.from_seq or 1) - 1
    after = bindparam("last", type_=EVENTS.c.seq.type)
    query = (select(*reading.columns(engine.dialect.name, text_booleans))
             .where(where.where(), EVENTS.c.seq > after, EVENTS.c.seq <= head)
             .order_by(EVENTS.c.seq).limit(chunk))
    compiled = query.compile(dialect=engine.dialect)
    processors = {name: processor for name, bind in compiled.binds.items()
                  if (processor := bind.type.bind_processor(engine.dialect))}

    def arguments(last_seq: int):
        values = compiled.construct_params({"last": last_seq})
        values = {name: processors[name](value) if name in processors else value
                  for name, value in values.items()}
        if compiled.positiontup is None:  # a named paramstyle (psycopg)
            return values
        return [values[name] for name in compiled.positiontup]  # qmark (sqlite3)

    while True:
        with engine.connect() as conn, closing(conn.connection.dbapi_connection.cursor()) as cursor:
            cursor.execute(str(compiled), arguments(last))
            batch = cursor.fetchall()
        if not batch:
            return
        yield batch
        last = batch[-1][0]
        if len(batch) < chunk:
            return


JSON_COLUMNS = [COLUMNS.index(name) for name in chain.JSON_TEXT if name in COLUMNS]


class _Lines(list):
    """What csv.writer writes to: its lines, kept and joined once per chunk (less copying
    than a StringIO)."""

    write = list.append


def csv_chunks(batches) -> Iterator[tuple[int, str]]:
    """RFC 4180 CSV (a header row, CRLF, quotes where needed; UTF-8 when encoded): empty
    cells are nulls, booleans true/false, choices and details their JSON text."""
    lines = _Lines()
    out = csv.writer(lines, lineterminator="\r\n")
    out.writerow(COLUMNS)
    for batch in batches:
        out.writerows(batch)
        yield len(batch), "".join(lines)
        lines.clear()
    if lines:  # no event at all: the header alone
        yield 0, "".join(lines)


BOOLEAN_COLUMNS = [i for i, c in enumerate(EVENTS.columns) if c.type.python_type is bool]


def _json_line(row) -> str:
    """One event as a JSON object; choices and details as objects (their stored canonical text)."""
    values = list(row)
    for i in BOOLEAN_COLUMNS:  # SQLite gives 0 / 1
        if values[i] is not None:
            values[i] = bool(values[i])
    record = {name: value for i, (name, value) in enumerate(zip(COLUMNS, values, strict=True))
              if i not in JSON_COLUMNS}
    line = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    extra = "".join(f',"{COLUMNS[i]}":{values[i] or "null"}' for i in JSON_COLUMNS)
    return line[:-1] + extra + "}"


def ndjson_chunks(batches) -> Iterator[tuple[int, str]]:
    """One JSON object per line."""
    for batch in batches:
        yield len(batch), "".join(_json_line(row) + "\n" for row in batch)


def json_chunks(batches) -> Iterator[tuple[int, str]]:
    """One JSON array, written as it is read."""
    first = True
    yield 0, "["
    for batch in batches:
        lines = ",\n".join(_json_line(row) for row in batch)
        yield len(batch), ("\n" if first else ",\n") + lines
        first = False
    yield 0, "]\n" if first else "\n]\n"


WRITERS = {"ndjson": ndjson_chunks, "csv": csv_chunks, "json": json_chunks}


def export(engine: Engine, where: Filters, fmt: str) -> Iterator[tuple[int, str]]:
    """The export as (events in this piece, text) pieces."""
    if fmt == "csv" and engine.dialect.name == "postgresql":
        return _pg_csv(engine, where)
    return WRITERS[fmt](rows(engine, where, text_booleans=fmt == "csv"))


def _pg_csv(engine: Engine, where: Filters) -> Iterator[tuple[int, str]]:
    """PostgreSQL: the same CSV, written by the server (postgres.PostgresLedger.copy_csv)."""
    with engine.connect() as conn:
        head = conn.execute(select(HEAD.c.seq).where(THE_HEAD)).scalar() or 0
    query = (select(*reading.columns("postgresql", text_booleans=True))
             .where(where.where(), EVENTS.c.seq <= head).order_by(EVENTS.c.seq))
    return backend(engine).copy_csv(query)
