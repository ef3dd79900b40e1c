"""`flask --app wsgi consent ...`: the operator's commands."""
import sys

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_migrate import upgrade

from . import catalogs, consents, keys, ledger, policy, storage
from .extensions import db
from .models import utcnow


@click.group()
def consent():
    """Consent server administration."""


@consent.command("init-db")
@with_appcontext
def init_db():
    """Create or upgrade the database schema (Alembic migrations)."""
    before = storage.schema_revision(db.engine)
    upgrade(directory=current_app.extensions["migrate"].directory)
    after = storage.schema_revision(db.engine)
    if before == after:
        click.echo(f"database is up to date (revision {after})")
    else:
        click.echo(f"database upgraded from revision {before or 'none'} to {after}")


@consent.command("create-key")
@click.option("--role", type=click.Choice(keys.ROLES), required=True)
@click.option("--name", required=True, help="Who or what uses the key.")
@with_appcontext
def create_key(role, name):
    """Create an API key and print its secret once (only a hash is stored)."""
    key, secret = keys.create_key(db.session, name, role)
    click.echo(f"key {key.id} ({key.role}, {key.name}), prefix {key.prefix}", err=True)
    click.echo("store this secret now; it cannot be shown again:", err=True)
    click.echo(secret)


@consent.command("revoke-key")
@click.argument("key")
@with_appcontext
def revoke_key(key):
    """Revoke an API key, named by its id, prefix or name."""
    try:
        revoked = keys.revoke_key(db.session, key)
    except LookupError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"key {revoked.id} ({revoked.name}) revoked at {revoked.revoked_at:%Y-%m-%d %H:%M}Z")


@consent.command("verify")
@with_appcontext
def verify():
    """Walk the ledger's hash chain; exit 1 and name the first bad sequence number if broken."""
    result = ledger.verify(db.session)
    if result.ok:
        click.echo(f"ok: {result.events} events, head {result.head}")
        return
    click.echo(f"BROKEN at seq {result.first_bad_seq}: {result.reason} "
               f"({result.events} events verified before it)", err=True)
    sys.exit(1)


@consent.command("rebuild-state")
@with_appcontext
def rebuild_state():
    """Rebuild the current-state table from the ledger alone."""
    count = ledger.rebuild_state(db.session)
    click.echo(f"rebuilt the state of {count} subjects")


@consent.command("purge-expired")
@with_appcontext
def purge_expired():
    """End consents older than CONSENT_MAX_AGE_DAYS with an expire event; erase the personal
    fields of consents that ended more than CONSENT_RETENTION_DAYS ago (L-05)."""
    days, keep = current_app.config["MAX_AGE_DAYS"], current_app.config["RETENTION_DAYS"]
    now = utcnow()
    erased = consents.erase_ended(db.session, keep, days, now)  # first: expiry restarts clocks
    count = consents.purge_expired(db.session, days, now)
    click.echo(f"expired {count} consents older than {days} days")
    click.echo(f"erased the personal data of {erased} consents that ended over {keep} days ago")


@consent.command("publish-policy")
@click.option("--material", is_flag=True,
              help="A material change (new purpose or recipient): everyone is asked again.")
@click.option("--force", is_flag=True, help="Publish even when the text has not changed.")
@with_appcontext
def publish_policy(material, force):
    """Publish the privacy notice as rendered now, if its text changed (or with --force)."""
    published = policy.publish(db.session, current_app.extensions["consent_site"],
                               current_app.config["LANGUAGES"], utcnow(), material, force)
    if published is None:
        click.echo("the notice text is unchanged; nothing published (use --force to ask again)")
        return
    kind = "material" if published.material else "non-material"
    click.echo(f"published notice version {published.version} ({kind})")
    for lang, digest in published.hashes.items():
        click.echo(f"  {lang}: sha256 {digest}")


@consent.group()
def i18n():
    """Keep the translation catalogs in step with the code."""


@i18n.command("extract")
def i18n_extract():
    """Extract every translatable string into translations/messages.pot."""
    catalogs.extract(catalogs.POT)


@i18n.command("update")
def i18n_update():
    """Extract, then merge new strings into the nb and en catalogs."""
    catalogs.extract(catalogs.POT)
    catalogs.update(catalogs.POT)


@i18n.command("compile")
@click.option("--directory", "-d", type=click.Path(file_okay=False), default=None,
              help="Where to write the .mo files (default: beside the .po files).")
def i18n_compile(directory):
    """Compile the catalogs into the .mo files the server reads."""
    catalogs.compile_all(directory or catalogs.SOURCE)
