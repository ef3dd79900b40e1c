"""The admin's webhook page (L-09): register a marketing tool's endpoint (its secret shown
once), see each endpoint's last deliveries and failures, disable one."""
from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..errors import DomainError
from ..extensions import db
from ..models import utcnow
from ..people import webhooks
from ..staff import access_log
from ..vocabulary import Role
from .base import bp, role_required
from .forms import ActionForm, WebhookForm


def _page(form: WebhookForm, secret: str | None = None, status: int = 200):
    return render_template("console/webhooks.html", form=form, secret=secret,
                           endpoints=webhooks.endpoints(db.session), action=ActionForm()), status


@bp.get("/admin/webhooks")
@role_required(Role.ADMIN)
def webhooks_page():
    """Webhook endpoints: list with their last deliveries, register, disable."""
    return _page(WebhookForm())


@bp.post("/admin/webhooks")
@role_required(Role.ADMIN)
def add_webhook():
    """Register an endpoint; its signing secret is shown on this one answer only."""
    form = WebhookForm()
    if not form.validate():
        return _page(form, status=422)
    try:
        endpoint_id, secret = webhooks.add_endpoint(db.session, form.url.data.strip(),
                                                    form.events.data, utcnow())
    except DomainError:
        form.url.errors = [_("The address must be an https URL.")]
        return _page(form, status=422)
    access_log.record(db.session, current_user.id, access_log.WEBHOOK_ADDED, utcnow(),
                      f"endpoint {endpoint_id}")
    return _page(WebhookForm(formdata=None), secret=secret, status=201)


@bp.post("/admin/webhooks/<int:endpoint_id>/disable")
@role_required(Role.ADMIN)
def disable_webhook(endpoint_id: int):
    """Stop sending to an endpoint."""
    try:
        webhooks.disable_endpoint(db.session, endpoint_id, utcnow())
    except DomainError:
        return render_template("console/error.html", status=404,
                               message=_("There is no such endpoint.")), 404
    access_log.record(db.session, current_user.id, access_log.WEBHOOK_DISABLED, utcnow(),
                      f"endpoint {endpoint_id}")
    flash(_("The endpoint is disabled."), "info")
    return redirect(url_for("console.webhooks_page"))
