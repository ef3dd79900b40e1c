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
from .forms import ActionForm, ConfirmForm, KeyForm, PublishForm, RoleForm, UserForm


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


def _confirmed(title: str, question: str, button: str, back: str):
    """None when the form says confirmed=yes; else the page that asks (its button posts the same
    form again, confirmed), for changes that cannot be undone."""
    form = ConfirmForm()
    if form.confirmed.data == "yes":
        return None
    return render_template("console/confirm.html", title=title, question=question,
                           button=button, back=back, form=form)


def _no_such(message: str):
    return render_template("console/error.html", status=404, message=message), 404


@bp.post("/admin/keys/<int:key_id>/revoke")
@role_required(Role.ADMIN)
def revoke_key(key_id: int):
    """Revoke a key, once confirmed: it stops working at once."""
    key = keys.find_key(db.session, key_id)
    if key is None:
        return _no_such(_("There is no such key."))
    ask = _confirmed(_("Revoke the key %(name)s?", name=key.name),
                     _("Every program that uses it is refused from now on. This cannot be "
                       "undone."), _("Revoke %(name)s", name=key.name), url_for("console.api_keys"))
    if ask is not None:
        return ask
    key = keys.revoke_key(db.session, str(key_id))
    access_log.record(db.session, current_user.id, access_log.KEY_REVOKED, utcnow(),
                      f"key {key.id}")
    flash(_("Key %(name)s is revoked.", name=key.name), "info")
    return redirect(url_for("console.api_keys"))


def _users_page(form: UserForm, link: str | None = None, status: int = 200,
                link_for: str | None = None):
    return render_template("console/users.html", form=form, users=users.all_users(db.session),
                           link=link, link_for=link_for, action=ActionForm(),
                           role_form=RoleForm), status


@bp.get("/admin/users")
@role_required(Role.ADMIN)
def staff_users():
    """Staff accounts: list, create, disable, enable, change a role, reset a password."""
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


def _other_account(user_id: int, refusal: str):
    """The account to change, or the answer: not one's own (refusal), 404 when there is none."""
    if user_id == current_user.id:
        flash(refusal, "error")
        return None, redirect(url_for("console.staff_users"))
    user = users.find(db.session, str(user_id))
    if user is None:
        return None, _no_such(_("There is no such account."))
    return user, None


@bp.post("/admin/users/<int:user_id>/disable")
@role_required(Role.ADMIN)
def disable_user(user_id: int):
    """Disable an account (not one's own), once confirmed: its sessions end at once."""
    user, answer = _other_account(user_id, _("You cannot disable your own account."))
    if answer is None:
        answer = _confirmed(_("Disable the account %(email)s?", email=user.email),
                            _("Its sessions end at once, and it cannot sign in until an admin "
                              "enables it again."), _("Disable %(email)s", email=user.email),
                            url_for("console.staff_users"))
    if answer is not None:
        return answer
    user = users.disable_user(db.session, str(user_id), utcnow())
    access_log.record(db.session, current_user.id, access_log.USER_DISABLED, utcnow(),
                      f"user {user.id}")
    flash(_("The account %(email)s is disabled.", email=user.email), "info")
    return redirect(url_for("console.staff_users"))


@bp.post("/admin/users/<int:user_id>/enable")
@role_required(Role.ADMIN)
def enable_user(user_id: int):
    """Enable a disabled account."""
    user, answer = _other_account(user_id, _("You cannot enable your own account."))
    if answer is not None:
        return answer
    user = users.enable_user(db.session, str(user.id))
    access_log.record(db.session, current_user.id, access_log.USER_ENABLED, utcnow(),
                      f"user {user.id}")
    flash(_("The account %(email)s is enabled.", email=user.email), "info")
    return redirect(url_for("console.staff_users"))


@bp.post("/admin/users/<int:user_id>/role")
@role_required(Role.ADMIN)
def set_role(user_id: int):
    """Give an account (not one's own) another role."""
    user, answer = _other_account(user_id, _("You cannot change your own role."))
    if answer is not None:
        return answer
    form = RoleForm()
    if not form.validate():
        flash(_("Choose one of the roles."), "error")
        return redirect(url_for("console.staff_users"))
    user = users.set_role(db.session, str(user.id), form.role.data)
    access_log.record(db.session, current_user.id, access_log.ROLE_CHANGED, utcnow(),
                      f"user {user.id}, role {user.role}")
    flash(_("%(email)s now has the role %(role)s.", email=user.email, role=user.role), "info")
    return redirect(url_for("console.staff_users"))


@bp.post("/admin/users/<int:user_id>/reset-password")
@role_required(Role.ADMIN)
def reset_password(user_id: int):
    """Reset an account's password, once confirmed; answer with a new one-time link."""
    user, answer = _other_account(user_id, _("Change your own password with a link from "
                                             "another admin or the command line."))
    if answer is None:
        answer = _confirmed(_("Reset the password of %(email)s?", email=user.email),
                            _("Its password stops working at once; you get a new one-time link "
                              "to send to its owner."), _("Reset the password"),
                            url_for("console.staff_users"))
    if answer is not None:
        return answer
    user = users.reset_password(db.session, str(user.id))
    access_log.record(db.session, current_user.id, access_log.PASSWORD_RESET, utcnow(),
                      f"user {user.id}")
    return _users_page(UserForm(formdata=None), link=users.set_password_url(user),
                       link_for=user.email)


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
                           changed=any(diffs.values()),
                           several_sites=len(current_app.extensions["consent_sites"]) > 1)


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
