"""The marketing team's services: the pre-send check, existing customers, the audience."""
import calendar
import json
from collections.abc import Iterable, Iterator
from datetime import date, datetime

from flask import current_app
from sqlalchemy import (
    and_,
    any_,
    bindparam,
    exists,
    func,
    insert,
    not_,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from .. import csvfiles, ledger
from ..consent import notices
from ..errors import Invalid, NotFound, TooLarge
from ..ledger import history
from ..models import STATE, utcnow
from ..vocabulary import Action, Basis, Purpose, Reason, Source
from .addresses import InvalidAddress
from .links import unsubscribe_url
from .persons import (
    CUSTOMER,
    KEYS,
    PERSON,
    by_address,
    choices_of,
    event,
    find_or_add,
    hasher,
    normalise_fast,
    valid_address,
)

RESULT_COLUMNS = ("consent_status", "consent_reason")  # never a tool's own `status`
AUDIENCE_COLUMNS = ("email", "language", "basis", "unsubscribe_url", "list_unsubscribe",
                    "list_unsubscribe_post")
CUSTOMER_COLUMNS = ("email", "sale_date", "product_category", "opt_out_offered", "language")
REASONS = tuple(reason.value for reason in Reason)
ALLOWED, DENIED = "allowed", "denied"
ONE_CLICK = "List-Unsubscribe=One-Click"  # RFC 8058's List-Unsubscribe-Post value


class TooMany(TooLarge):
    """More addresses in one call than CONSENT_CHECK_MAX_ADDRESSES."""


def limit(count: int, most: int) -> None:
    """TooMany beyond the cap of addresses per call (S-04)."""
    if count > most:
        raise TooMany(f"At most {most:,} addresses per call; this one has {count:,}. "
                      "Split the list and send the parts one by one.")


def read_csv(data: bytes, most: int, column: str | None = None) -> csvfiles.Table:
    """A CSV file to check, as a marketing tool or a spreadsheet wrote it (csvfiles.read): the
    address column found by name or named by `column`; Invalid when `consent_status` or
    `consent_reason` is already a column (the answer adds them)."""
    return csvfiles.read(data, most, column, reserved=RESULT_COLUMNS)


def check_csv(table: csvfiles.Table, results) -> bytes:
    """The checked file: every input column kept, in order, `consent_status` and
    `consent_reason` added; the input's delimiter; every cell safe for a spreadsheet."""
    return csvfiles.answer(table, list(RESULT_COLUMNS), results)


def summary(results) -> dict:
    """The counts of a check: {checked, allowed, denied, reasons: {reason: count}}, the
    reasons in the vocabulary's order."""
    counts = {reason: 0 for reason in REASONS}
    allowed = 0
    for status, reason in results:
        counts[reason] += 1
        allowed += status == ALLOWED
    return {"checked": len(results), "allowed": allowed, "denied": len(results) - allowed,
            "reasons": {reason: n for reason, n in counts.items() if n}}


def summary_header(counts: dict) -> str:
    """The counts as a Structured Field dictionary (RFC 8941) for a CSV answer's
    `Consent-Check-Summary` header: `checked=4, allowed=1, denied=3, no_consent=2, invalid=1`."""
    parts = {"checked": counts["checked"], "allowed": counts["allowed"],
             "denied": counts["denied"], **counts["reasons"]}
    return ", ".join(f"{name}={value}" for name, value in parts.items())


def customers_from_csv(table: csvfiles.Table) -> list[dict]:
    """A customers file's rows as CustomersSchema's items: the address from its column (found
    by name), the other columns by name in any case; empty cells left out."""
    columns = {name: table.column(name) for name in CUSTOMER_COLUMNS if name != "email"}
    out = []
    for index, address in enumerate(table.addresses()):
        row = {"email": address}
        for name, cells in columns.items():
            if cells is not None and cells[index].strip():
                row[name] = cells[index].strip()
        out.append(row)
    return out


def audience_csv(rows: Iterable[dict]) -> Iterator[str]:
    """The audience as CSV text, a header and then a line per address as it comes, every cell
    safe for a spreadsheet."""
    return csvfiles.dicts_text(list(AUDIENCE_COLUMNS), rows)


def _purpose(purpose: str) -> str:
    if purpose not in KEYS:
        raise Invalid("Unknown purpose.", {"purpose": [f"Must be one of: {', '.join(KEYS)}."]})
    return purpose


def decide(purpose: str, person, state, customer: bool, valid_versions, *,
           lapsed: bool = False, named: bool = True) -> tuple[str, str]:
    """(status, reason) of one address for one purpose (M-01, M-07, R-03). `customer`: a
    customer basis within CUSTOMER_BASIS_MONTHS (of the category asked for, if any); `lapsed`:
    only an older one; `named`: the check names a product category.

    The choices, the pending sign-up and the withdrawals are canonical JSON (sorted keys, no
    spaces), so a purpose's entry is a plain substring: no parsing per address.
    """
    if person is None:
        return DENIED, Reason.NO_CONSENT
    if person.email is None:
        return DENIED, Reason.ERASED
    if person.restricted_at is not None:  # Art. 18: kept, used for nothing, until lifted
        return DENIED, Reason.RESTRICTED
    granted = f'"{purpose}":true'
    if state is not None and state.action != Action.ERASE and granted in state.choices:
        if state.policy_version not in valid_versions:
            return DENIED, Reason.EXPIRED
        return ALLOWED, Reason.CONSENT
    withdrawn = f'"{purpose}":' in (person.withdrawn or "")
    marketing = purpose == Purpose.MARKETING
    if marketing and customer and not withdrawn:
        return (ALLOWED, Reason.CUSTOMER) if named else (DENIED, Reason.CUSTOMER_NEEDS_CATEGORY)
    if granted in (person.pending or ""):
        return DENIED, Reason.PENDING
    if withdrawn:  # from marketing, every withdrawal is an objection, which no sale undoes
        return DENIED, Reason.OBJECTED if marketing else Reason.WITHDRAWN
    if marketing and lapsed:
        return DENIED, Reason.CUSTOMER_LAPSED
    return DENIED, Reason.NO_CONSENT


def months_before(day: date, months: int) -> date:
    """The same day `months` calendar months earlier (the month's last day when it is short)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def customer_cutoff(today: date | None = None) -> date:
    """The earliest sale that still gives a customer basis today (CUSTOMER_BASIS_MONTHS)."""
    today = today or utcnow().date()
    return months_before(today, int(current_app.config["CUSTOMER_BASIS_MONTHS"]))


LOOKUP = (PERSON.c.subject, PERSON.c.address_hash, PERSON.c.email, PERSON.c.pending,
          PERSON.c.withdrawn, PERSON.c.restricted_at, STATE.c.action, STATE.c.choices,
          STATE.c.policy_version)


def _lookup(session: Session, hashes: set[str], purpose: str, category: str | None,
            cutoff: date):
    """The person, state and customer basis (current, and lapsed) of every address hash in one
    set-based query over one parameter: `= ANY(array)` on PostgreSQL, `IN json_each(array)` on
    SQLite (a temporary table filled row by row cost five times as much: the session's reads
    run without a transaction, so every row was one)."""
    if not hashes:
        return {}
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        matches = PERSON.c.address_hash == any_(bindparam("hashes", list(hashes)))
    else:
        listed = func.json_each(bindparam("hashes", json.dumps(list(hashes)))).table_valued(
            "value")
        matches = PERSON.c.address_hash.in_(select(listed.c.value))
    columns = LOOKUP
    if purpose == Purpose.MARKETING:
        columns = (*LOOKUP, _customer_clause(category, cutoff).label("customer"),
                   _customer_clause(category).label("lapsed"))
    query = (select(*columns).select_from(PERSON.outerjoin(STATE, STATE.c.subject ==
                                                           PERSON.c.subject)).where(matches))
    return {row.address_hash: row for row in conn.execute(query).all()}


def _customer_clause(category: str | None, cutoff: date | None = None):
    """Whether a person has a customer basis (of the category, when one is named; from a sale
    on or after `cutoff`, when one is given)."""
    where = CUSTOMER.c.subject == PERSON.c.subject
    if category:
        where = and_(where, CUSTOMER.c.product_category == category)
    if cutoff is not None:
        where = and_(where, CUSTOMER.c.sale_date >= cutoff)
    return exists().where(where)


def check(session: Session, purpose: str, emails: list, category: str | None = None,
          progress=None, today: date | None = None) -> list[tuple[str, str]]:
    """(status, reason) per address, in the order given: may it get this purpose now? For
    marketing, a customer basis counts only for the product category named (none named:
    `customer_needs_category`) and only CUSTOMER_BASIS_MONTHS after the sale."""
    purpose = _purpose(purpose)
    hashed: list[tuple[str, str | None] | None] = []
    keyed = hasher()
    for email in emails:
        try:
            hashed.append(keyed(normalise_fast(email)))
        except InvalidAddress:
            hashed.append(None)
        if progress is not None:
            progress(1)
    wanted = {h for pair in hashed if pair for h in pair if h}
    found = _lookup(session, wanted, purpose, category, customer_cutoff(today))
    valid = set(notices.valid_versions(session))
    marketing = purpose == Purpose.MARKETING  # only then has the look-up a customer column

    def one(row):
        if row is None:
            return DENIED, Reason.NO_CONSENT
        state = row if row.action is not None else None
        if not marketing:
            return decide(purpose, row, state, False, valid)
        return decide(purpose, row, state, bool(row.customer), valid, lapsed=bool(row.lapsed),
                      named=bool(category))

    out = []
    for pair in hashed:
        if pair is None:
            out.append((DENIED, Reason.INVALID))
            continue
        new, old = pair
        answer = one(found.get(new))
        if old is not None and old in found:
            # A person known by the hash from before migration 0008 (erased before it, or
            # sharing the folded address with another): the stricter answer stands, so that no
            # erased or withdrawn address became mailable by the change.
            earlier = one(found[old])
            if earlier[0] == DENIED and (answer[0] == ALLOWED or found.get(new) is None):
                answer = earlier
        out.append(answer)
    return out


def record_customers(session: Session, customers: list[dict], language: str, now: datetime) -> int:
    """Record an existing-customer basis (kundeforhold) per address: collected at a sale of a
    product category, the opt-out offered. Each is a ledger event (source `api`, basis
    `customer`); nothing is recorded when any row is invalid."""
    errors, rows = {}, []
    for index, row in enumerate(customers):
        try:
            address = normalise_fast(row["email"])
        except InvalidAddress as error:
            errors[str(index)] = {"email": [str(error)]}
            continue
        if not (row.get("product_category") or "").strip():
            errors[str(index)] = {"product_category": [
                "The basis covers products like those bought: name the product category."]}
            continue
        if row["opt_out_offered"] is not True:
            errors[str(index)] = {"opt_out_offered": [
                "The basis needs a free and simple opt-out offered at the sale."]}
            continue
        rows.append({**row, "email": address,
                     "product_category": row["product_category"].strip()})
    if errors:
        raise Invalid("Some customers are not valid; nothing was recorded.",
                      {"customers": errors})
    current = notices.current(session)
    if current is None:
        raise Invalid("No notice version has been published yet.")
    with ledger.locked(session) as writer:
        for row in rows:
            person = find_or_add(writer.conn, row["email"], row.get("language") or language,
                                 None, now)
            key = and_(CUSTOMER.c.subject == person.subject,
                       CUSTOMER.c.product_category == row["product_category"])
            known = writer.conn.execute(select(CUSTOMER.c.sale_date).where(key)).first()
            if known is None:
                writer.conn.execute(insert(CUSTOMER).values(
                    subject=person.subject, product_category=row["product_category"],
                    sale_date=row["sale_date"], recorded_at=now))
            elif known.sale_date < row["sale_date"]:
                writer.conn.execute(update(CUSTOMER).where(key).values(
                    sale_date=row["sale_date"], recorded_at=now))
            state = writer.state(person.subject)
            lang = state.language if state is not None else person.language
            writer.append(event(
                person.subject, action=Action.UPDATE, choices=choices_of(state),
                policy_version=state.policy_version if state is not None else current.version,
                language=lang, text_hash=state.text_hash if state is not None
                else notices.text_hash(session, current.version, lang), source=Source.API,
                basis=Basis.CUSTOMER, details=customer_details(row),
                site=state.site if state is not None else current.site), now=now)
    return len(rows)


def customer_details(row: dict) -> dict:
    """An existing customer's event details: no personal data."""
    sale: date = row["sale_date"]
    return {"sale_date": sale.isoformat(), "product_category": row["product_category"] or None,
            "opt_out_offered": True}


def audience(session: Session, purpose: str, category: str | None = None,
             today: date | None = None, site: str | None = None):
    """Every address that may receive the purpose now, with its language and unsubscribe
    headers (M-03, M-06); streamed from a server-side cursor, memory flat. Customers are in a
    marketing audience only when it names their product category (M-07). With a site, only
    the people whose last choice was recorded under that site's notice (where they signed
    up)."""
    purpose = _purpose(purpose)
    valid = notices.valid_versions(session)
    consented = and_(STATE.c.action != Action.ERASE,
                     STATE.c.choices.like(f'%"{purpose}":true%'),  # canonical JSON
                     STATE.c.policy_version.in_(valid))
    allowed = consented
    if purpose == Purpose.MARKETING and category:
        allowed = or_(consented, and_(_customer_clause(category, customer_cutoff(today)),
                                      not_(PERSON.c.withdrawn.like('%"marketing"%'))))
    if site is not None:
        allowed = and_(allowed, STATE.c.site == site)
    query = (select(PERSON.c.subject, PERSON.c.email, PERSON.c.language,
                    consented.label("consented"))
             .select_from(PERSON.outerjoin(STATE, STATE.c.subject == PERSON.c.subject))
             .where(PERSON.c.email.is_not(None), PERSON.c.restricted_at.is_(None), allowed)
             .order_by(PERSON.c.subject))
    # A connection of its own: the stream outlives the request's session (server-side cursor on
    # PostgreSQL, in a transaction that nothing else ends).
    with session.get_bind().connect() as conn:
        rows = conn.execution_options(yield_per=1000).execute(query)
        for row in rows:
            url = unsubscribe_url(row.subject, purpose)
            yield {"email": row.email, "language": row.language,
                   "basis": Basis.CONSENT if row.consented else Basis.CUSTOMER,
                   "unsubscribe_url": url, "list_unsubscribe": f"<{url}>",
                   "list_unsubscribe_post": ONE_CLICK}


def look_up(session: Session, address: str) -> dict:
    """One address for the marketing team: may it get each purpose now, and why; and its
    history (None when the ledger has none). Invalid for a malformed address."""
    address = valid_address(address)
    statuses = {purpose: check(session, purpose, [address])[0] for purpose in KEYS}
    person = by_address(session, address)
    found = None
    if person is not None:
        try:
            found = history.subject_history(session, person.subject)
        except NotFound:
            found = None
    return {"address": address, "statuses": statuses, "history": found}
