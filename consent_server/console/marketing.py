"""The marketing team's pages (role marketing or admin): the pre-send check of a CSV, the
audience as CSV, one address looked up, existing customers from a CSV."""
from flask import (
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from marshmallow import ValidationError

from .. import csvfiles
from ..api.marketing import CustomersSchema
from ..errors import DomainError
from ..extensions import db
from ..models import utcnow
from ..people import marketing
from ..staff import access_log
from ..vocabulary import Reason, Role
from .base import bp, role_required
from .forms import AudienceForm, CheckForm, CustomersForm, LookupForm

REASONS = {Reason.CONSENT: _l("consent given"), Reason.CUSTOMER: _l("existing customer"),
           Reason.NO_CONSENT: _l("no consent"), Reason.WITHDRAWN: _l("consent withdrawn"),
           Reason.PENDING: _l("awaiting confirmation"), Reason.ERASED: _l("erased"),
           Reason.EXPIRED: _l("consent given to an outdated notice"),
           Reason.INVALID: _l("not a valid address"), Reason.OBJECTED: _l("objected to marketing"),
           Reason.CUSTOMER_LAPSED: _l("customer, but the last sale is too long ago"),
           Reason.CUSTOMER_NEEDS_CATEGORY: _l("customer: name the product category"),
           Reason.RESTRICTED: _l("processing restricted by the person")}
STATUSES = {"allowed": _l("allowed"), "denied": _l("not allowed")}


# What csvfiles.Unreadable's problems say in the console's language, with their particulars.
PROBLEMS = {
    "empty": _l("The file is empty."),
    "not_csv": _l("This is not CSV text but %(what)s: save or export it as CSV."),
    "encoding": _l("The file's characters could not be read: save it as \"CSV UTF-8\"."),
    "no_header": _l("The file has no header row: the first line must name the columns."),
    "no_address": _l("No column holds the addresses. Headers found (%(delimiter)s, "
                     "%(encoding)s): %(headers)s. Name the address column in the field below."),
    "no_such_column": _l("The file has no column named “%(column)s”. Headers found "
                         "(%(delimiter)s, %(encoding)s): %(headers)s."),
    "several": _l("Several columns could hold the addresses (%(columns)s): name the one to "
                  "check in the field below."),
    "reserved": _l("The file already has a column named %(columns)s, which the answer adds: "
                   "rename it."),
    "too_long": _l("Line %(line)s has %(cells)s cells, but the header has %(width)s "
                   "(%(delimiter)s)."),
    "bad_csv": _l("Line %(line)s is not valid CSV (%(delimiter)s)."),
}
DELIMITERS = {"comma": _l("comma-separated"), "semicolon": _l("semicolon-separated"),
              "tab": _l("tab-separated")}
KINDS = {"workbook": _l("an Excel workbook or a Numbers document"),
         "old_workbook": _l("an old Excel workbook (.xls)"), "pdf": _l("a PDF")}
SUMMARY = "Consent-Check-Summary"


def _upload(form):
    """The uploaded file as read by csvfiles (any usual encoding and delimiter)."""
    return marketing.read_csv(form.file.data.read(), int(current_app.config["CHECK_MAX_ADDRESSES"]),
                              form.column.data or None)


def _upload_error(form, error: DomainError) -> int:
    """The refusal on the form's fields, said in the console's language; the status."""
    most = "{:,}".format(int(current_app.config["CHECK_MAX_ADDRESSES"])).replace(",", " ")
    if isinstance(error, csvfiles.Unreadable):
        facts = dict(error.facts)
        if "delimiter" in facts:
            facts["delimiter"] = DELIMITERS[facts["delimiter"]]
        if "what" in facts:
            facts["what"] = KINDS[facts["what"]]
        message = PROBLEMS[error.problem] % facts
        target = form.column if "column" in (error.errors or {}) else form.file
        target.errors = [message]
    elif error.status == 413:
        form.file.errors = [_("The file has more than %(most)s rows; split it.", most=most)]
    else:
        form.file.errors = [_("The file is not a CSV we can read.")]
    return error.status if error.status in (413, 422) else 422


@bp.route("/marketing/check", methods=["GET", "POST"])
@role_required(Role.MARKETING)
def check():
    """Upload a CSV of recipients; it comes back with `status` and `reason` per address."""
    form = CheckForm()
    status = 200
    if form.validate_on_submit():
        try:
            table = _upload(form)
            results = marketing.check(db.session, form.purpose.data, table.addresses(),
                                      form.product_category.data or None)
        except DomainError as error:
            status = _upload_error(form, error)
        else:
            access_log.record(db.session, current_user.id, access_log.CHECK, utcnow(),
                              f"purpose {form.purpose.data}", len(table.rows))
            counts = marketing.summary(results)
            return Response(marketing.check_csv(table, results), mimetype="text/csv", headers={
                "Content-Disposition": f'attachment; filename="checked-{form.purpose.data}.csv"',
                SUMMARY: marketing.summary_header(counts)})
    elif request.method == "POST":
        status = 422
    labels = {"checked": _("addresses checked"), "allowed": _("allowed"),
              "denied": _("not allowed"), **{reason: str(text) for reason, text in REASONS.items()}}
    return render_template("console/check.html", form=form, labels=labels,
                           most=int(current_app.config["CHECK_MAX_ADDRESSES"])), status


@bp.route("/marketing/audience", methods=["GET", "POST"])
@role_required(Role.MARKETING)
def audience():
    """Download every address that may receive a purpose now, with its unsubscribe URL (M-06)."""
    form = AudienceForm()
    if not form.validate_on_submit():
        status = 422 if request.method == "POST" else 200
        return render_template("console/audience.html", form=form), status
    purpose, category = form.purpose.data, form.product_category.data or None
    site = form.site.data or None
    user_id = current_user.id
    rows = marketing.audience(db.session, purpose, category, site=site)

    def counted():
        count = 0
        try:
            for row in rows:
                count += 1
                yield row
        finally:  # the access log gets the rows sent, also when the download stops early
            access_log.record(db.session, user_id, access_log.EXPORT, utcnow(),
                              f"audience {purpose}" + (f", {category}" if category else "")
                              + (f", site {site}" if site else ""),
                              count)

    return Response(stream_with_context(marketing.audience_csv(counted())),
                    mimetype="text/csv", headers={
                        "Content-Disposition": f'attachment; filename="audience-{purpose}.csv"'})


@bp.route("/marketing/lookup", methods=["GET", "POST"])
@role_required(Role.MARKETING)
def lookup():
    """One address: may it get each purpose now, and why; its history. Asked by POST, so the
    address is in no URL or log."""
    form = LookupForm()
    found, status = None, 200
    if form.validate_on_submit():
        try:
            found = marketing.look_up(db.session, form.email.data)
        except DomainError:
            form.email.errors = [_("Not a valid e-mail address.")]
            status = 422
        else:
            access_log.record(db.session, current_user.id, access_log.LOOKUP, utcnow(),
                              rows=len(found["history"]["events"]) if found["history"] else 0)
    elif request.method == "POST":
        status = 422
    return render_template("console/lookup.html", form=form, found=found, reasons=REASONS,
                           statuses=STATUSES), status


@bp.route("/marketing/customers", methods=["GET", "POST"])
@role_required(Role.MARKETING)
def customers():
    """Record existing customers (kundeforhold) from a CSV: email, sale_date, product_category,
    opt_out_offered (and language)."""
    form = CustomersForm()
    problems, status = [], 200
    if form.validate_on_submit():
        try:
            table = _upload(form)
            body = CustomersSchema().load({"customers": marketing.customers_from_csv(table)})
            count = marketing.record_customers(db.session, body["customers"],
                                               current_app.config["DEFAULT_LANGUAGE"], utcnow())
        except ValidationError as error:
            problems, status = _row_problems(error.messages.get("customers", {})), 422
        except DomainError as error:
            if error.errors and "customers" in error.errors:
                problems, status = _row_problems(error.errors["customers"]), 422
            else:
                status = _upload_error(form, error)
        else:
            access_log.record(db.session, current_user.id, access_log.CUSTOMERS, utcnow(),
                              rows=count)
            flash(ngettext("%(num)s existing customer is recorded.",
                           "%(num)s existing customers are recorded.", count), "info")
            return redirect(url_for("console.customers"))
    elif request.method == "POST":
        status = 422
    return render_template("console/customers.html", form=form, problems=problems,
                           months=current_app.config["CUSTOMER_BASIS_MONTHS"]), status


def _row_problems(errors) -> list[tuple[int, str, str]]:
    """(line in the file, column, message) per invalid cell; line 1 is the header."""
    out = []
    if not isinstance(errors, dict):
        return [(0, "", str(errors))]
    for index, fields in sorted(errors.items(), key=lambda item: int(item[0])):
        for column, messages in (fields.items() if isinstance(fields, dict) else
                                 [("", fields)]):
            for message in messages if isinstance(messages, list) else [messages]:
                out.append((int(index) + 2, column, str(message)))
    return out[:100]
