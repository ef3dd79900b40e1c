"""`flask --app wsgi consent ...`: the operator's commands."""
import csv
import json
import sys

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_migrate import upgrade

from . import catalogs, database, ledger
from .consent import devices, notices
from .errors import DomainError
from .extensions import db
from .ledger import exports, signing
from .models import utcnow
from .people import marketing, subscriptions
from .people.persons import subject_key
from .staff import keys, users


@click.group()
def consent():
    """Consent server administration."""


@consent.command("init-db")
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


@consent.command("create-user")
@click.option("--email", required=True, help="The staff member's e-mail address.")
@click.option("--role", type=click.Choice(keys.ROLES), required=True)
@click.option("--link", is_flag=True,
              help="Print a one-time set-password link instead of asking for a password.")
@with_appcontext
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


@consent.command("disable-user")
@click.argument("user")
@with_appcontext
def disable_user(user):
    """Disable a staff account, named by its id or e-mail address; its sessions end."""
    try:
        disabled = users.disable_user(db.session, user, utcnow())
    except LookupError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"user {disabled.id} ({disabled.email}) disabled")


@consent.command("verify")
@click.option("--checkpoint", "checkpoint_file", type=click.File("r", encoding="utf-8"),
              help="A checkpoint kept earlier: also prove that the ledger still extends it.")
@with_appcontext
def verify(checkpoint_file):
    """Walk the ledger's hash chain and check the state; exit 1 and say where it is broken."""
    result = ledger.verify(db.session)
    if result.ok and checkpoint_file is not None:
        try:
            given = signing.load_checkpoint(checkpoint_file.read())
        except ValueError:
            given = None
        problem = signing.check_checkpoint(db.session, current_app.extensions[
            "consent_signing_key"], given)
        if problem:
            click.echo(f"CHECKPOINT not extended: {problem}", err=True)
            sys.exit(1)
        click.echo(f"ok: {result.events} events, head {result.head}, "
                   f"extends the checkpoint at seq {given['seq']}")
        return
    if result.ok:
        click.echo(f"ok: {result.events} events, head {result.head}")
        return
    if result.first_bad_seq is not None:
        click.echo(f"BROKEN at seq {result.first_bad_seq}: {result.reason} "
                   f"({result.events} events verified before it)", err=True)
    if not result.state_ok:
        click.echo(f"STATE differs from the ledger for: {', '.join(result.bad_subjects)} "
                   "(`flask consent rebuild-state` rebuilds it)", err=True)
    sys.exit(1)


class Instant(click.ParamType):
    name = "ISO-8601"

    def convert(self, value, param, ctx):
        try:
            return exports.instant(value)
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 date or date-time", param, ctx)


@consent.command("export")
@click.option("--format", "fmt", type=click.Choice(list(exports.FORMATS)), default="ndjson",
              show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, writable=True), required=True,
              help="The file to write.")
@click.option("--since", type=Instant(), help="Events recorded at or after (ISO 8601).")
@click.option("--until", type=Instant(), help="Events recorded before (ISO 8601).")
@click.option("--purpose", help="Events whose choices name this purpose.")
@click.option("--action", type=click.Choice(exports.ACTIONS))
@click.option("--subject", help="A consent id, or an e-mail address (hashed before the look-up).")
@click.option("--from-seq", type=click.IntRange(min=1), help="Events from this sequence number.")
@with_appcontext
def export(fmt, out, **filters):
    """Export the ledger in sequence order (every field, so the file re-verifies offline)."""
    try:
        if filters["subject"] is not None:
            filters["subject"] = subject_key(db.session, filters["subject"])
        where = exports.filters(**filters)
    except DomainError as error:
        raise click.BadParameter(str(error.errors or error.detail)) from None
    total = exports.count(db.engine, where)
    with open(out, "w", encoding="utf-8", newline="") as file, click.progressbar(
            length=total, label=f"exporting {total} events", file=sys.stderr) as bar:
        for done, text in exports.export(db.engine, where, fmt):
            file.write(text)
            bar.update(done)
    click.echo(f"exported {total} events to {out}", err=True)


@consent.command("checkpoint")
@click.option("--out", type=click.Path(dir_okay=False, writable=True),
              help="Write it to this file (default: standard output).")
@with_appcontext
def checkpoint(out):
    """Print a signed checkpoint of the ledger's head (JSON); keep it somewhere else."""
    text = json.dumps(signing.checkpoint(db.session, current_app.extensions[
        "consent_signing_key"]), indent=2) + "\n"
    if out:
        with open(out, "w", encoding="utf-8") as file:
            file.write(text)
        click.echo(f"checkpoint written to {out}", err=True)
    else:
        click.echo(text, nl=False)


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
    erased = devices.erase_ended(db.session, keep, days, now)  # first: expiry restarts clocks
    count = devices.purge_expired(db.session, days, now)
    click.echo(f"expired {count} consents older than {days} days")
    click.echo(f"erased the personal data of {erased} consents that ended over {keep} days ago")


@consent.command("publish-policy")
@click.option("--material", is_flag=True,
              help="A material change (new purpose or recipient): everyone is asked again.")
@click.option("--force", is_flag=True, help="Publish even when the text has not changed.")
@with_appcontext
def publish_policy(material, force):
    """Publish the privacy notice as rendered now, if its text changed (or with --force)."""
    published = notices.publish(db.session, current_app.extensions["consent_site"],
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


@consent.command("send-pending")
@with_appcontext
def send_pending():
    """Send every confirmation mail still due (a sign-up whose mail failed); exit 1 if any
    still fails."""
    sent, failed = subscriptions.send_pending(db.session, utcnow())
    click.echo(f"sent {sent} confirmation mails, {failed} still failing")
    if failed:
        sys.exit(1)


@consent.command("check")
@click.option("--purpose", required=True, help="newsletter or marketing")
@click.option("--product-category", default=None, help="For the customer basis (marketing).")
@click.option("--out", type=click.File("w", encoding="utf-8"), default="-",
              help="Where to write the result CSV (default: standard output).")
@click.argument("file", type=click.File("r", encoding="utf-8-sig"))
@with_appcontext
def check(purpose, product_category, out, file):
    """Check a CSV with an `email` column: the same CSV comes back with status and reason."""
    reader = csv.DictReader(file)
    header = list(reader.fieldnames or [])
    if "email" not in header:
        raise click.ClickException("the CSV needs an `email` column")
    rows = list(reader)
    try:
        marketing.limit(len(rows), int(current_app.config["CHECK_MAX_ADDRESSES"]))
        with click.progressbar(length=len(rows), label="checking", file=sys.stderr) as bar:
            results = marketing.check(db.session, purpose, [r["email"] for r in rows],
                                      product_category, progress=bar.update)
    except DomainError as error:
        raise click.ClickException(error.detail) from None
    columns = header + [c for c in ("status", "reason") if c not in header]
    writer = csv.DictWriter(out, columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    allowed = 0
    for row, (status, reason) in zip(rows, results, strict=True):
        writer.writerow({**row, "status": status, "reason": reason})
        allowed += status == "allowed"
    click.echo(f"{allowed} of {len(rows)} allowed for {purpose}", err=True)
