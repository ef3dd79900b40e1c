"""One subject's whole history, each event with the notice it was given under (C-07)."""
import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import NotFound
from ..models import EVENTS, ConsentState, PolicyText, PolicyVersion
from . import chain


def subject_history(session: Session, subject: str) -> dict:
    """Every event of a subject (the ledger's subject: a consent id or an address's keyed hash),
    each with the notice version, language and text hash it was given under, and the texts."""
    rows = session.execute(select(EVENTS).where(EVENTS.c.subject == subject)
                           .order_by(EVENTS.c.seq)).mappings().all()
    if not rows:
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
