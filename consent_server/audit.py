"""Auditors' read models: one subject's whole history with the notice it saw (C-07), and
statistics per day and purpose computed in SQL."""
import json
from datetime import datetime

from sqlalchemy import and_, case, func, literal, select, union_all
from sqlalchemy.orm import Session

from . import chain, purposes
from .errors import NotFound
from .models import ConsentEvent, ConsentState, PolicyText, PolicyVersion

EVENTS = ConsentEvent.__table__


def subject_history(session: Session, subject: str) -> dict:
    """Every event of a subject (the ledger's subject: a consent id or an address's keyed hash),
    each with the notice version, language and text hash it was given under, and the texts."""
    rows = session.execute(select(EVENTS).where(EVENTS.c.subject == subject)
                           .order_by(EVENTS.c.seq)).mappings().all()
    if not rows:
        session.rollback()
        raise NotFound("No events for this subject.")
    hashes = {row["text_hash"] for row in rows if row["text_hash"]}
    notices = {}
    if hashes:
        for text in session.execute(
                select(PolicyText.text_hash, PolicyText.language, PolicyText.text,
                       PolicyVersion.version, PolicyVersion.published_at, PolicyVersion.material)
                .join(PolicyVersion).where(PolicyText.text_hash.in_(hashes))):
            notices[text.text_hash] = {"version": text.version, "language": text.language,
                                       "published_at": text.published_at,
                                       "material": text.material, "text": text.text}
    state = session.get(ConsentState, subject)
    session.rollback()
    events = []
    for row in rows:
        event = dict(row)
        event["recorded_at"] = row["recorded_at"]
        event["choices"] = json.loads(row["choices"])
        event["details"] = json.loads(row["details"]) if row["details"] else None
        event["hash_ok"] = chain.event_hash(row) == row["hash"]
        events.append(event)
    return {"subject": subject, "subject_type": rows[0]["subject_type"],
            "current": {"action": state.action, "choices": json.loads(state.choices),
                        "recorded_at": state.recorded_at, "seq": state.seq}
            if state else None,
            "events": events, "notices": notices}


OPTIONAL = [p.key for p in purposes.PURPOSES if not p.required]
MADE = ("grant", "update", "withdraw", "erase")  # choices a subject made (expire is the system's)


def _day(column, dialect: str):
    """The UTC calendar day of a time column as YYYY-MM-DD (SQLite keeps UTC text)."""
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    return func.substr(column, 1, 10)


def stats(session: Session, since: datetime | None = None, until: datetime | None = None) -> dict:
    """Per day and purpose: grants (a purpose turned on), refusals (chosen off, not on before)
    and withdrawals (on before, off now); per day the share of device choices that were accept
    all, reject all or per purpose. GROUP BY in SQL: only the counts come back."""
    c = EVENTS.c
    dialect = session.get_bind().dialect.name
    # Each event beside its subject's previous choices (a window over the whole ledger, so a
    # withdrawal on the first day of the range still knows what was on before it).
    flow = select(c.recorded_at, c.action, c.subject_type, c.choices,
                  func.lag(c.choices).over(partition_by=c.subject, order_by=c.seq)
                  .label("before")).cte("flow")
    where = [flow.c.action.in_(MADE)]
    if since is not None:
        where.append(flow.c.recorded_at >= since)
    if until is not None:
        where.append(flow.c.recorded_at < until)
    day = _day(flow.c.recorded_at, dialect).label("day")

    def on(column, key):  # canonical JSON: `"key":true` is the purpose on
        return column.contains(f'"{key}":true', autoescape=True)

    def off(column, key):
        return column.contains(f'"{key}":false', autoescape=True)

    def count(condition):
        return func.sum(case((condition, 1), else_=0))

    per_purpose = []
    for key in OPTIONAL:
        was_on = flow.c.before.is_not(None) & on(flow.c.before, key)
        per_purpose.append(
            select(day, literal(key).label("purpose"),
                   count(on(flow.c.choices, key) & ~was_on).label("granted"),
                   count(off(flow.c.choices, key) & ~was_on & (flow.c.action != "erase"))
                   .label("refused"),
                   count(off(flow.c.choices, key) & was_on).label("withdrawn"))
            .where(*where, on(flow.c.choices, key) | off(flow.c.choices, key)).group_by(day))
    query = union_all(*per_purpose).subquery()
    purpose_rows = session.execute(select(query).order_by(query.c.day, query.c.purpose)).all()
    device = [k for k in OPTIONAL if "device" in purposes.BY_KEY[k].scopes]
    all_on = and_(*[on(flow.c.choices, k) for k in device])
    all_off = and_(*[off(flow.c.choices, k) for k in device])
    kinds = session.execute(
        select(day, func.count().label("choices"), count(all_on).label("accept_all"),
               count(all_off).label("reject_all"))
        .where(*where, flow.c.action != "erase", flow.c.subject_type == "device")
        .group_by(day).order_by(day)).all()
    session.rollback()
    days = []
    for row in kinds:
        total, mixed = row.choices, row.choices - row.accept_all - row.reject_all
        days.append({"day": row.day, "choices": total, "accept_all": row.accept_all,
                     "reject_all": row.reject_all, "per_purpose": mixed,
                     "share": {"accept_all": round(row.accept_all / total, 4),
                               "reject_all": round(row.reject_all / total, 4),
                               "per_purpose": round(mixed / total, 4)}})
    return {"since": since, "until": until,
            "purposes": [{"day": r.day, "purpose": r.purpose, "granted": int(r.granted),
                          "refused": int(r.refused), "withdrawn": int(r.withdrawn)}
                         for r in purpose_rows],
            "days": days}
