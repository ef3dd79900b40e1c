"""`flask consent` commands that set a deployment up: the schema, the notice's versions, the
translation catalogs."""
import click
from flask import current_app
from flask.cli import with_appcontext
from flask_migrate import upgrade

from .. import catalogs, database
from ..consent import notices
from ..extensions import db
from ..models import utcnow


@click.command("init-db")
@with_appcontext
def init_db():
    """Create or upgrade the database schema (Alembic migrations)."""
    before = database.schema_revision(db.engine)
    upgrade(directory=current_app.extensions["migrate"].directory)
    after = database.schema_revision(db.engine)
    if before == after:
        click.echo(f"database is up to date (revision {after})")
    else:
        click.echo(f"database upgraded from revision {before or 'none'} to {after}")


@click.command("publish-policy")
@click.option("--material", is_flag=True,
              help="A material change (new purpose or recipient): everyone is asked again.")
@click.option("--force", is_flag=True, help="Publish even when the text has not changed.")
@with_appcontext
def publish_policy(material, force):
    """Publish the privacy notice as rendered now, if its text changed (or with --force)."""
    try:
        published = notices.publish(db.session, current_app.extensions["consent_site"],
                                   current_app.config["LANGUAGES"], utcnow(), material, force)
    except notices.NewRecipients as error:  # N-04, N-06: everyone must be asked again
        raise click.ClickException(
            f"new recipient(s): {', '.join(error.entities)}. A new recipient is a material "
            "change: publish with --material, so that everyone is asked again.") from None
    if published is None:
        click.echo("the notice text is unchanged; nothing published (use --force to ask again)")
        return
    kind = "material" if published.material else "non-material"
    click.echo(f"published notice version {published.version} ({kind})")
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
    """Extract, then merge new strings into the nb and en catalogs."""
    catalogs.extract(catalogs.POT)
    catalogs.update(catalogs.POT)


@i18n.command("compile")
@click.option("--directory", "-d", type=click.Path(file_okay=False), default=None,
              help="Where to write the .mo files (default: beside the .po files).")
def i18n_compile(directory):
    """Compile the catalogs into the .mo files the server reads."""
    catalogs.compile_all(directory or catalogs.SOURCE)


COMMANDS = [init_db, publish_policy, i18n]
