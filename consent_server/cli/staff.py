"""`flask consent` commands for the staff: API keys and console accounts. Every change is in
the access log, its actor `cli`."""
import click

from ..errors import DomainError
from ..extensions import db
from ..models import utcnow
from ..staff import access_log, keys, users
from .keys import with_keys


def _log(action: str, detail: str) -> None:
    access_log.record(db.session, None, action, utcnow(), detail, actor=access_log.CLI)


def _refusal(error: DomainError) -> click.ClickException:
    details = "; ".join(m for ms in (error.errors or {}).values() for m in ms)
    return click.ClickException(f"{error.detail} {details}".strip())


def _found(change, *args):
    """change(db.session, *args); an account or key that is not there said in one line."""
    try:
        return change(db.session, *args)
    except LookupError as error:
        raise click.ClickException(str(error)) from error


def _when(moment) -> str:
    return f"{moment:%Y-%m-%d %H:%M}Z" if moment else ""


@click.command("create-key")
@click.option("--role", type=click.Choice(keys.ROLES), required=True)
@click.option("--name", required=True, help="Who or what uses the key.")
@with_keys
def create_key(role, name):
    """Create an API key and print its secret once (only a hash is stored)."""
    key, secret = keys.create_key(db.session, name, role)
    _log(access_log.KEY_CREATED, f"key {key.id}, role {key.role}")
    click.echo(f"key {key.id} ({key.role}, {key.name}), prefix {key.prefix}", err=True)
    click.echo("store this secret now; it cannot be shown again:", err=True)
    click.echo(secret)


@click.command("revoke-key")
@click.argument("key")
@with_keys
def revoke_key(key):
    """Revoke an API key, named by its id, prefix or name."""
    revoked = _found(keys.revoke_key, key)
    _log(access_log.KEY_REVOKED, f"key {revoked.id}")
    click.echo(f"key {revoked.id} ({revoked.name}) revoked at {_when(revoked.revoked_at)}")


@click.command("list-keys")
@with_keys
def list_keys():
    """List the API keys: id, role, name, prefix, created, revoked (never a secret)."""
    click.echo("id\trole\tname\tprefix\tcreated\trevoked")
    for key in keys.all_keys(db.session):
        click.echo(f"{key.id}\t{key.role}\t{key.name}\t{key.prefix}\t{_when(key.created_at)}\t"
                   f"{_when(key.revoked_at) or '-'}")


@click.command("create-user")
@click.option("--email", required=True, help="The staff member's e-mail address.")
@click.option("--role", type=click.Choice(keys.ROLES), required=True)
@click.option("--link", is_flag=True,
              help="Print a one-time set-password link instead of asking for a password.")
@with_keys
def create_user(email, role, link):
    """Create a staff account for the console: asks for its password, or prints a link."""
    password = None if link else click.prompt("Password", hide_input=True,
                                              confirmation_prompt=True)
    try:
        user = users.create_user(db.session, email, role, password, utcnow())
    except DomainError as error:
        raise _refusal(error) from error
    _log(access_log.USER_CREATED, f"user {user.id}, role {user.role}")
    click.echo(f"user {user.id} ({user.role}, {user.email}) created", err=True)
    if link:
        click.echo("send this one-time link to its owner (valid 48 hours):", err=True)
        click.echo(users.set_password_url(user))


@click.command("list-users")
@with_keys
def list_users():
    """List the staff accounts: id, role, address, created, status."""
    click.echo("id\trole\temail\tcreated\tstatus")
    for user in users.all_users(db.session):
        status = ("disabled " + _when(user.disabled_at) if user.disabled_at else
                  "active" if user.password_hash else "no password yet")
        click.echo(f"{user.id}\t{user.role}\t{user.email}\t{_when(user.created_at)}\t{status}")


@click.command("disable-user")
@click.argument("user")
@with_keys
def disable_user(user):
    """Disable a staff account, named by its id or e-mail address; its sessions end."""
    disabled = _found(users.disable_user, user, utcnow())
    _log(access_log.USER_DISABLED, f"user {disabled.id}")
    click.echo(f"user {disabled.id} ({disabled.email}) disabled")


@click.command("enable-user")
@click.argument("user")
@with_keys
def enable_user(user):
    """Enable a disabled staff account, named by its id or e-mail address."""
    enabled = _found(users.enable_user, user)
    _log(access_log.USER_ENABLED, f"user {enabled.id}")
    click.echo(f"user {enabled.id} ({enabled.email}) enabled")


@click.command("set-role")
@click.argument("user")
@click.argument("role", type=click.Choice(keys.ROLES))
@with_keys
def set_role(user, role):
    """Give a staff account (id or e-mail address) another role."""
    changed = _found(users.set_role, user, role)
    _log(access_log.ROLE_CHANGED, f"user {changed.id}, role {changed.role}")
    click.echo(f"user {changed.id} ({changed.email}) now has the role {changed.role}")


@click.command("reset-password")
@click.argument("user")
@with_keys
def reset_password(user):
    """Replace a staff account's password by a new one-time set-password link (the old password
    and earlier links stop working)."""
    reset = _found(users.reset_password, user)
    _log(access_log.PASSWORD_RESET, f"user {reset.id}")
    click.echo(f"the password of user {reset.id} ({reset.email}) is reset; send this one-time "
               "link to its owner (valid 48 hours):", err=True)
    click.echo(users.set_password_url(reset))


COMMANDS = [create_key, revoke_key, list_keys, create_user, list_users, disable_user,
            enable_user, set_role, reset_password]
