"""Statistics for auditors, per day and purpose, computed in SQL: grants, refusals, withdrawals,
and the share of accept all, reject all and per-purpose choices."""
from datetime import datetime

from sqlalchemy import and_, case, func, literal, select, union_all
from sqlalchemy.orm import Session

from ..models import EVENTS
from ..vocabulary import Action, SubjectType
from . import purposes

MADE = (Action.GRANT, Action.UPDATE, Action.WITHDRAW, Action.ERASE)  # expire is the system's


def _day(column, dialect: str):
    """The UTC calendar day of a time column as YYYY-MM-DD (SQLite keeps UTC text)."""
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    return func.substr(column, 1, 10)


def stats(session: Session, since: datetime | None = None, until: datetime | None = None,
          site: str | None = None) -> dict:
    """Per day and purpose: grants (a purpose turned on), refusals (chosen off, not on before)
    and withdrawals (on before, off now); per day the share of device choices that were accept
    all, reject all or per purpose; of one site's events, or all. GROUP BY in SQL: only the
    counts come back."""
    c = EVENTS.c
    dialect = session.get_bind().dialect.name
    # Each event beside its subject's previous choices (a window over the whole ledger, so a
    # withdrawal on the first day of the range still knows what was on before it).
    flow = select(c.recorded_at, c.action, c.subject_type, c.choices, c.site,
                  func.lag(c.choices).over(partition_by=c.subject, order_by=c.seq)
                  .label("before")).cte("flow")
    where = [flow.c.action.in_(MADE)]
    if since is not None:
        where.append(flow.c.recorded_at >= since)
    if until is not None:
        where.append(flow.c.recorded_at < until)
    if site is not None:
        where.append(flow.c.site == site)
    day = _day(flow.c.recorded_at, dialect).label("day")

    def on(column, key):  # canonical JSON: `"key":true` is the purpose on
        return column.contains(f'"{key}":true', autoescape=True)

    def off(column, key):
        return column.contains(f'"{key}":false', autoescape=True)

    def count(condition):
        return func.sum(case((condition, 1), else_=0))

    per_purpose = []
    for key in purposes.OPTIONAL_KEYS:
        was_on = flow.c.before.is_not(None) & on(flow.c.before, key)
        per_purpose.append(
            select(day, literal(key).label("purpose"),
                   count(on(flow.c.choices, key) & ~was_on).label("granted"),
                   count(off(flow.c.choices, key) & ~was_on & (flow.c.action != Action.ERASE))
                   .label("refused"),
                   count(off(flow.c.choices, key) & was_on).label("withdrawn"))
            .where(*where, on(flow.c.choices, key) | off(flow.c.choices, key)).group_by(day))
    query = union_all(*per_purpose).subquery()
    purpose_rows = session.execute(select(query).order_by(query.c.day, query.c.purpose)).all()
    device = [p.key for p in purposes.DEVICE if not p.required]
    all_on = and_(*[on(flow.c.choices, k) for k in device])
    all_off = and_(*[off(flow.c.choices, k) for k in device])
    kinds = session.execute(
        select(day, func.count().label("choices"), count(all_on).label("accept_all"),
               count(all_off).label("reject_all"))
        .where(*where, flow.c.action != Action.ERASE,
               flow.c.subject_type == SubjectType.DEVICE)
        .group_by(day).order_by(day)).all()
    days = []
    for row in kinds:
        total, mixed = row.choices, row.choices - row.accept_all - row.reject_all
        days.append({"day": row.day, "choices": total, "accept_all": row.accept_all,
                     "reject_all": row.reject_all, "per_purpose": mixed,
                     "share": {"accept_all": round(row.accept_all / total, 4),
                               "reject_all": round(row.reject_all / total, 4),
                               "per_purpose": round(mixed / total, 4)}})
    return {"since": since, "until": until, "site": site,
            "purposes": [{"day": r.day, "purpose": r.purpose, "granted": int(r.granted),
                          "refused": int(r.refused), "withdrawn": int(r.withdrawn)}
                         for r in purpose_rows],
            "days": days}
