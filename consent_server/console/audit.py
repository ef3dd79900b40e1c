"""The auditors' pages (role auditor or admin): chain status and checkpoints, the export form,
a subject's history, charts of consent per purpose and day."""
import json
from datetime import timedelta

from flask import Response, current_app, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from .. import ledger
from ..consent import purposes
from ..consent import stats as stats_service
from ..errors import DomainError
from ..extensions import db
from ..ledger import bundles, exports, history, note, transparency
from ..models import utcnow
from ..people.persons import subject_key
from ..staff import access_log
from ..vocabulary import Role
from . import charts
from .base import bp, role_required
from .forms import ChartRangeForm, ExportForm, SubjectForm

SERIES = {"granted": _l("granted"), "refused": _l("refused"), "withdrawn": _l("withdrawn"),
          "accept_all": _l("accept all"), "reject_all": _l("reject all"),
          "per_purpose": _l("chosen per purpose")}


@bp.get("/audit")
@role_required(Role.AUDITOR)
def audit():
    """The chain's status: verified now, events, head, the last checkpoint taken here."""
    result = ledger.verify(db.session)
    last = access_log.last(db.session, access_log.CHECKPOINT)
    return render_template("console/audit.html", result=result, last=last)


@bp.get("/audit/checkpoint")
@role_required(Role.AUDITOR)
def download_checkpoint():
    """A new signed checkpoint of the head, as a file to keep."""
    signed = transparency.json_checkpoint(db.session, current_app.extensions[
        "consent_signing_key"])
    access_log.record(db.session, current_user.id, access_log.CHECKPOINT, utcnow(),
                      f"seq {signed['seq']}")
    return Response(json.dumps(signed, indent=2) + "\n", mimetype="application/json",
                    headers={"Content-Disposition":
                             f'attachment; filename="checkpoint-{signed["seq"]}.json"'})


@bp.route("/audit/export", methods=["GET", "POST"])
@role_required(Role.AUDITOR)
def export():
    """The export form; its answer streams the file (NDJSON, CSV or JSON)."""
    form = ExportForm()
    if not form.validate_on_submit():
        status = 422 if request.method == "POST" else 200
        return render_template("console/export.html", form=form), status
    since = exports.instant(form.since.data.isoformat()) if form.since.data else None
    until = (exports.instant(form.until.data.isoformat()) + timedelta(days=1)
             if form.until.data else None)  # the last day named is included
    where = exports.filters(since=since, until=until, purpose=form.purpose.data or None,
                            action=form.action.data or None, site=form.site.data or None)
    fmt = form.format.data
    total = exports.count(db.engine, where)
    detail = ", ".join(f"{name} {value}" for name, value in (
        ("format", fmt), ("since", form.since.data), ("until", form.until.data),
        ("purpose", form.purpose.data), ("action", form.action.data),
        ("site", form.site.data)) if value)
    access_log.record(db.session, current_user.id, access_log.EXPORT, utcnow(), detail, total)
    pieces = (text for _, text in exports.export(db.engine, where, fmt))
    return Response(pieces, mimetype=exports.FORMATS[fmt], headers={
        "Content-Disposition": f'attachment; filename="consent-events.{fmt}"'})


@bp.route("/audit/subject", methods=["GET", "POST"])
@role_required(Role.AUDITOR)
def subject():
    """Look up one subject (a consent id or an address): the whole history, printable.

    A POST, so the consent id or address is in no URL, browser history or server log."""
    form = SubjectForm()
    found, status = None, 200
    if form.validate_on_submit():
        try:
            found = history.subject_history(db.session,
                                            subject_key(db.session, form.subject.data.strip()))
        except DomainError as error:
            form.subject.errors = [_("No events for this consent id or address.")
                                   if error.status == 404 else _("Not a valid e-mail address.")]
            status = error.status
        access_log.record(db.session, current_user.id, access_log.SUBJECT_LOOKUP, utcnow(),
                          rows=len(found["events"]) if found else 0)
    elif request.method == "POST":
        status = 422
    return render_template("console/subject.html", form=form, history=found,
                           printed=utcnow().strftime("%Y-%m-%d %H:%M:%S")), status


@bp.post("/audit/subject/proof")
@role_required(Role.AUDITOR)
def subject_proof():
    """The subject's proof bundle as a file (the API's /subjects/<id>/proof): their events with
    inclusion proofs against one signed checkpoint, checkable with the log's key alone (L-11).
    A POST, as the look-up, so the consent id or address is in no URL."""
    form = SubjectForm()
    if not form.validate_on_submit():
        return render_template("console/subject.html", form=form, history=None,
                               printed=None), 422
    try:
        found = bundles.bundle(db.session, current_app.extensions["consent_signing_key"],
                               note.origin(current_app.config["PUBLIC_URL"]),
                               subject_key(db.session, form.subject.data.strip()))
    except DomainError as error:
        form.subject.errors = [_("No events for this consent id or address.")
                               if error.status == 404 else _("Not a valid e-mail address.")]
        return render_template("console/subject.html", form=form, history=None,
                               printed=None), error.status
    access_log.record(db.session, current_user.id, access_log.SUBJECT_LOOKUP, utcnow(),
                      rows=len(found["events"]))
    return Response(json.dumps(found, indent=2) + "\n", mimetype="application/json",
                    headers={"Content-Disposition": 'attachment; filename="proof-bundle.json"'})


@bp.get("/audit/charts")
@role_required(Role.AUDITOR)
def charts_page():
    """Consent per purpose per day and the share of each kind of choice: SVG and tables."""
    form = ChartRangeForm(request.args, meta={"csrf": False})  # a read: a GET form
    today = utcnow().date()
    if not form.validate():
        return render_template("console/charts.html", form=form, purposes=[],
                               share=None, days=[]), 422
    first = form.since.data or today - timedelta(days=13)
    last = form.until.data or today
    if last < first or (last - first).days > 366:
        form.until.errors = [_("The end must be after the start, at most a year later.")]
        return render_template("console/charts.html", form=form, purposes=[],
                               share=None, days=[]), 422
    form.since.data, form.until.data = first, last  # the inputs show the range drawn
    stats = stats_service.stats(db.session, exports.instant(first.isoformat()),
                                exports.instant((last + timedelta(days=1)).isoformat()),
                                form.site.data or None)
    days = [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]

    def label(day, series, value):
        return f"{day}: {SERIES[series]} {value}"

    per_purpose = []
    for key in purposes.OPTIONAL_KEYS:
        rows = [r for r in stats["purposes"] if r["purpose"] == key]
        per_purpose.append({"key": key, "name": purposes.BY_KEY[key].name, "rows": rows,
                            "chart": charts.counts(rows, days, label)})
    return render_template("console/charts.html", form=form, purposes=per_purpose,
                           share=charts.shares(stats["days"], days, label), days=stats["days"],
                           series=SERIES, first=first, last=last)
