"""`flask consent` commands that set a deployment up: the schema, the notice's versions, the
translation catalogs."""
import click
from flask import current_app
from flask.cli import with_appcontext
from flask_migrate import upgrade

from .. import backups, catalogs, database
from ..consent import notices
from ..errors import DomainError
from ..extensions import db
from ..ledger import signing
from ..models import utcnow
from ..staff import access_log


@click.command("init-db")
@with_appcontext
def init_db():
    """Create or upgrade the database schema (Alembic migrations)."""
    before = database.schema_revision(db.engine)
    upgrade(directory=current_app.extensions["migrate"].directory)
    after = database.schema_revision(db.engine)
    key = current_app.extensions.get("consent_signing_key")
    if key is not None:  # published from the start, so what it signs verifies for ever
        signing.publish(db.session, key)
    if before == after:
        click.echo(f"database is up to date (revision {after})")
    else:
        click.echo(f"database upgraded from revision {before or 'none'} to {after}")


def _refusal(error: DomainError) -> click.ClickException:
    return click.ClickException(error.detail)


@click.command("backup")
@click.option("--out", type=click.Path(dir_okay=False), required=True,
              help="The new file to write (mode 0600).")
@with_appcontext
def backup(out):
    """Back up the SQLite database while the server runs (SQLite's online backup API); on
    PostgreSQL, refuses and points to the README's pg_dump recipe."""
    try:
        done = backups.backup(db.engine, out)
    except DomainError as error:
        raise _refusal(error) from None
    click.echo(f"backed up {done.events} events (head {done.head}, schema {done.revision}, "
               f"integrity {done.integrity}) to {out}; keep it with the three keys")


@click.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def restore(file):
    """Restore a backup made by `backup` into this database, which must be empty (SQLite);
    then run `init-db` (if the code is newer) and `verify`."""
    try:
        done = backups.restore(db.engine, file)
    except DomainError as error:
        raise _refusal(error) from None
    click.echo(f"restored {done.events} events (head {done.head}, schema {done.revision}); "
               "now run `flask consent init-db` and `flask consent verify --checkpoint FILE`")


@click.command("publish-policy")
@click.option("--material", is_flag=True,
              help="A material change (new purpose or recipient): everyone is asked again.")
@click.option("--force", is_flag=True, help="Publish even when the text has not changed.")
@click.option("--site", "site_id", metavar="ID",
              help="Only this site's notice (several sites: each has its own versions, and a "
                   "material change asks again only those who chose on that site).")
@with_appcontext
def publish_policy(material, force, site_id):
    """Publish the privacy notice as rendered now, if its text changed (or with --force), for
    every site or one."""
    served = current_app.extensions["consent_sites"]
    try:
        chosen = [served.named(site_id)] if site_id else list(served)
    except DomainError as error:
        raise click.ClickException(f"--site: {error.errors['site'][0]}") from None
    for site in chosen:
        _publish(site, material, force, len(served) > 1)


def _publish(site, material: bool, force: bool, named: bool) -> None:
    of = f" of site {site.id}" if named else ""
    try:
        published = notices.publish(db.session, site, current_app.config["LANGUAGES"],
                                    utcnow(), material, force)
    except notices.NewRecipients as error:  # N-04, N-06: everyone must be asked again
        raise click.ClickException(
            f"new recipient(s){of}: {', '.join(error.entities)}. A new recipient is a material "
            "change: publish with --material, so that everyone is asked again.") from None
    if published is None:
        click.echo(f"the notice text{of} is unchanged; nothing published (use --force to ask "
                   "again)")
        return
    kind = "material" if published.material else "non-material"
    access_log.record(db.session, None, access_log.NOTICE_PUBLISHED, utcnow(),
                      f"version {published.version}, material {published.material}"
                      + (f", site {site.id}" if named else ""), actor=access_log.CLI)
    click.echo(f"published notice version {published.version}{of} ({kind})")
    for lang, digest in published.hashes.items():
        click.echo(f"  {lang}: sha256 {digest}")


@click.group()
def i18n():
    """Keep the translation catalogs in step with the code."""


@i18n.command("extract")
def i18n_extract():
    """Extract every translatable string into translations/messages.pot."""
    catalogs.extract(catalogs.POT)


@i18n.command("update")
def i18n_update():
    """Extract, then merge new strings into the nb, nn and en catalogs."""
    catalogs.extract(catalogs.POT)
    catalogs.update(catalogs.POT)


@i18n.command("compile")
@click.option("--directory", "-d", type=click.Path(file_okay=False), default=None,
              help="Where to write the .mo files (default: beside the .po files).")
def i18n_compile(directory):
    """Compile the catalogs into the .mo files the server reads."""
    catalogs.compile_all(directory or catalogs.SOURCE)


COMMANDS = [init_db, backup, restore, publish_policy, i18n]
