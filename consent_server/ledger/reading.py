"""Reading the ledger fast, for exports and verify: the database formats each event's time as
the hashed form (chain.timestamp) and rows come back as the driver gives them.

Why a second path beside the typed models: at a million events, SQLAlchemy's per-row result
processing (parsing SQLite's time text into a datetime, then formatting it back) was most of an
export's and a verify's time. The values are the same; tests compare both paths.
"""
from sqlalchemy import String, case, func, literal_column, type_coerce

from .. import csvfiles
from ..models import EVENTS

NAMES = [c.name for c in EVENTS.columns]  # every column, whatever other changes add


def hashed_time(column, dialect: str):
    """SQL for a time column as `YYYY-MM-DDTHH:MM:SS.ffffffZ` in UTC (chain.timestamp)."""
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", column),
                            literal_column("'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'"))
    # SQLAlchemy stores SQLite times as UTC text, `YYYY-MM-DD HH:MM:SS.ffffff`, without the
    # fraction when it is zero.
    def cat(*parts):
        out = parts[0]
        for part in parts[1:]:
            out = out.op("||")(part)
        return out

    fraction = func.substr(cat(func.substr(column, 21), literal_column("'000000'")), 1, 6)
    return cat(func.substr(column, 1, 10), literal_column("'T'"), func.substr(column, 12, 8),
               literal_column("'.'"), fraction, literal_column("'Z'"))


QUOTE = literal_column("''''")  # SQL for a text of one `'`


def spreadsheet_safe(column):
    """SQL for a text column as csvfiles.safe writes it: a `'` before a first character a
    spreadsheet would take for a formula (and before a `'`), so a CSV that the database writes
    (PostgreSQL's COPY) is as safe as one written in Python."""
    risky = [literal_column("'" + c.replace("'", "''") + "'") for c in csvfiles.RISKY]
    return case((func.substr(column, 1, 1).in_(risky), QUOTE.op("||")(column)), else_=column)


def columns(dialect: str, text_booleans: bool = False) -> list:
    """Every event column, the time as hashed, untyped (no per-row processing); booleans as
    'true' / 'false' and text cells spreadsheet-safe when text_booleans (CSV), else as the
    driver gives them."""
    out = []
    for column in EVENTS.columns:
        if column.name == "recorded_at":
            out.append(type_coerce(hashed_time(column, dialect), String()).label(column.name))
        elif column.type.python_type is bool and text_booleans:
            out.append(case((column.is_(True), "true"), else_="false").label(column.name))
        elif column.type.python_type is str and text_booleans:
            out.append(type_coerce(spreadsheet_safe(column), String()).label(column.name))
        else:
            out.append(column)
    return out
