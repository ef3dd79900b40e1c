"""The operator's pages (role admin): API keys, staff accounts, notice versions, access log."""
import difflib
import hashlib
import json

from flask import current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..consent import notices
from ..errors import Invalid
from ..extensions import db
from ..models import ApiKey, utcnow
from ..staff import access_log, keys, users
from ..vocabulary import Role
from .base import bp, role_required
from .forms import ActionForm, KeyForm, PublishForm, UserForm


def _keys_page(form: KeyForm, secret: str | None = None, created: ApiKey | None = None,
               status: int = 200):
    return render_template("console/keys.html", form=form, keys=keys.all_keys(db.session),
                           secret=secret,
                           created=created, action=ActionForm()), status


@bp.get("/admin/keys")
@role_required(Role.ADMIN)
def api_keys():
    """API keys: list, create, revoke."""
    return _keys_page(KeyForm())


@bp.post("/admin/keys")
@role_required(Role.ADMIN)
def create_key():
    """Create a key; its secret is shown on this one answer only."""
    form = KeyForm()
    if not form.validate():
        return _keys_page(form, status=422)
    key, secret = keys.create_key(db.session, form.name.data.strip(), form.role.data)
    access_log.record(db.session, current_user.id, access_log.KEY_CREATED, utcnow(),
                      f"key {key.id}, role {key.role}")
    return _keys_page(KeyForm(formdata=None), secret=secret, created=key, status=201)


@bp.post("/admin/keys/<int:key_id>/revoke")
@role_required(Role.ADMIN)
def revoke_key(key_id: int):
    """Revoke a key: it stops working at once."""
    try:
        key = keys.revoke_key(db.session, str(key_id))
    except LookupError:
        return render_template("console/error.html", status=404,
                               message=_("There is no such key.")), 404
    access_log.record(db.session, current_user.id, access_log.KEY_REVOKED, utcnow(),
                      f"key {key.id}")
    flash(_("Key %(name)s is revoked.", name=key.name), "info")
    return redirect(url_for("console.api_keys"))


def _users_page(form: UserForm, link: str | None = None, status: int = 200):
    return render_template("console/users.html", form=form, users=users.all_users(db.session),
                           link=link, action=ActionForm()), status


@bp.get("/admin/users")
@role_required(Role.ADMIN)
def staff_users():
    """Staff accounts: list, create, disable."""
    return _users_page(UserForm())


@bp.post("/admin/users")
@role_required(Role.ADMIN)
def create_user():
    """Create an account; answer with its one-time set-password link."""
    form = UserForm()
    if not form.validate():
        return _users_page(form, status=422)
    try:
        user = users.create_user(db.session, form.email.data, form.role.data, None, utcnow())
    except Invalid as error:
        form.email.errors = [_("Not an e-mail address, or an account with it exists.")]
        return _users_page(form, status=error.status)
    access_log.record(db.session, current_user.id, access_log.USER_CREATED, utcnow(),
                      f"user {user.id}, role {user.role}")
    return _users_page(UserForm(formdata=None), link=users.set_password_url(user), status=201)


@bp.post("/admin/users/<int:user_id>/disable")
@role_required(Role.ADMIN)
def disable_user(user_id: int):
    """Disable an account (not one's own): its sessions end at once."""
    if user_id == current_user.id:
        flash(_("You cannot disable your own account."), "error")
        return redirect(url_for("console.staff_users"))
    try:
        user = users.disable_user(db.session, str(user_id), utcnow())
    except LookupError:
        return render_template("console/error.html", status=404,
                               message=_("There is no such account.")), 404
    access_log.record(db.session, current_user.id, access_log.USER_DISABLED, utcnow(),
                      f"user {user.id}")
    flash(_("The account %(email)s is disabled.", email=user.email), "info")
    return redirect(url_for("console.staff_users"))


def _rendered() -> tuple[dict[str, str], str]:
    texts = notices.render(current_app.extensions["consent_site"], current_app.config["LANGUAGES"])
    return texts, hashlib.sha256(json.dumps(texts, sort_keys=True).encode()).hexdigest()


def _diffs(texts: dict[str, str]) -> dict[str, list[tuple[str, str]]]:
    """Per language, the unified diff of the published text to the text as rendered now, as
    (kind, line) with kind add, del, hunk or same."""
    latest = notices.current(db.session)
    out = {}
    for lang, new in texts.items():
        old = notices.text(db.session, latest, lang) if latest else None
        lines = difflib.unified_diff((old.text if old else "").splitlines(),
                                     new.splitlines(), lineterm="", n=2)
        kinds = []
        for line in list(lines)[2:]:  # the ---/+++ header says nothing here
            kind = {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "same")
            kinds.append((kind, line))
        out[lang] = kinds
    return out


@bp.get("/admin/notices", endpoint="notices")
@role_required(Role.ADMIN)
def notices_page():
    """Notice versions, and the diff of the text a new version would publish."""
    versions = notices.versions(db.session)
    texts, digest = _rendered()
    diffs = _diffs(texts)
    form = PublishForm(formdata=None, expected=digest)
    return render_template("console/notices.html", versions=versions, diffs=diffs, form=form,
                           changed=any(diffs.values()))


@bp.post("/admin/notices")
@role_required(Role.ADMIN)
def publish_notice():
    """Publish the text that was shown in the diff (refused if it changed since)."""
    form = PublishForm()
    texts, digest = _rendered()
    if not form.validate() or form.expected.data != digest:
        flash(_("The notice text changed since the page was shown; check the new diff."),
              "error")
        return redirect(url_for("console.notices"))
    try:
        published = notices.publish(db.session, current_app.extensions["consent_site"],
                                   current_app.config["LANGUAGES"], utcnow(),
                                   form.material.data, force=True)
    except notices.NewRecipients as error:  # a new recipient is material (N-06)
        flash(_("A new recipient is a material change: %(names)s. Publish it as material.",
                names=", ".join(error.entities)), "error")
        return redirect(url_for("console.notices"))
    access_log.record(db.session, current_user.id, access_log.NOTICE_PUBLISHED, utcnow(),
                      f"version {published.version}, material {published.material}")
    flash(_("Notice version %(version)s is published.", version=published.version), "info")
    return redirect(url_for("console.notices"))


@bp.get("/admin/access-log")
@role_required(Role.ADMIN)
def access_log_page():
    """The access log: sign-ins, exports and changes, newest first."""
    return render_template("console/access_log.html", entries=access_log.latest(db.session))
