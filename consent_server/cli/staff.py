"""`flask consent` commands for the staff: API keys and console accounts."""
import click

from ..errors import DomainError
from ..extensions import db
from ..models import utcnow
from ..staff import keys, users
from .keys import with_keys


@click.command("create-key")
@click.option("--role", type=click.Choice(keys.ROLES), required=True)
@click.option("--name", required=True, help="Who or what uses the key.")
@with_keys
def create_key(role, name):
    """Create an API key and print its secret once (only a hash is stored)."""
    key, secret = keys.create_key(db.session, name, role)
    click.echo(f"key {key.id} ({key.role}, {key.name}), prefix {key.prefix}", err=True)
    click.echo("store this secret now; it cannot be shown again:", err=True)
    click.echo(secret)


@click.command("revoke-key")
@click.argument("key")
@with_keys
def revoke_key(key):
    """Revoke an API key, named by its id, prefix or name."""
    try:
        revoked = keys.revoke_key(db.session, key)
    except LookupError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"key {revoked.id} ({revoked.name}) revoked at {revoked.revoked_at:%Y-%m-%d %H:%M}Z")


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
        details = "; ".join(m for ms in (error.errors or {}).values() for m in ms)
        raise click.ClickException(f"{error.detail} {details}".strip()) from error
    click.echo(f"user {user.id} ({user.role}, {user.email}) created", err=True)
    if link:
        click.echo("send this one-time link to its owner (valid 48 hours):", err=True)
        click.echo(users.set_password_url(user))


@click.command("disable-user")
@click.argument("user")
@with_keys
def disable_user(user):
    """Disable a staff account, named by its id or e-mail address; its sessions end."""
    try:
        disabled = users.disable_user(db.session, user, utcnow())
    except LookupError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"user {disabled.id} ({disabled.email}) disabled")


COMMANDS = [create_key, revoke_key, create_user, disable_user]
