"""`flask consent` commands on the ledger: verify, export, checkpoint, rebuild the state,
expire and erase by age."""
import json
import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from .. import ledger
from ..consent import devices
from ..errors import DomainError
from ..extensions import db
from ..ledger import exports, signing
from ..models import utcnow
from ..people import retention
from ..people.persons import subject_key


class Instant(click.ParamType):
    name = "ISO-8601"

    def convert(self, value, param, ctx):
        try:
            return exports.instant(value)
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 date or date-time", param, ctx)


@click.command("verify")
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


@click.command("export")
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


@click.command("checkpoint")
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


@click.command("rebuild-state")
@with_appcontext
def rebuild_state():
    """Rebuild the current-state table from the ledger alone."""
    count = ledger.rebuild_state(db.session)
    click.echo(f"rebuilt the state of {count} subjects")


@click.command("purge-expired")
@with_appcontext
def purge_expired():
    """End consents older than CONSENT_MAX_AGE_DAYS with an expire event; erase the personal
    fields of consents that ended more than CONSENT_RETENTION_DAYS ago (L-05); clear the
    addresses of people whose last purpose ended (or whose sign-up link expired unconfirmed)
    more than CONSENT_PERSON_RETENTION_DAYS ago (R-05), after recording each customer basis
    that lapsed (M-07; a person.lapsed webhook)."""
    config = current_app.config
    days, keep = config["MAX_AGE_DAYS"], config["RETENTION_DAYS"]
    now = utcnow()
    erased = devices.erase_ended(db.session, keep, days, now)  # first: expiry restarts clocks
    count = devices.purge_expired(db.session, days, now)
    lapsed = retention.lapse(db.session, now, int(config["CUSTOMER_BASIS_MONTHS"]))
    people = retention.purge(db.session, now, int(config["PERSON_RETENTION_DAYS"]),
                             int(config["CONFIRM_MAX_AGE_HOURS"]),
                             int(config["CUSTOMER_BASIS_MONTHS"]))
    click.echo(f"expired {count} consents older than {days} days")
    click.echo(f"erased the personal data of {erased} consents that ended over {keep} days ago")
    click.echo(f"ended {lapsed} customer relationships past "
               f"{config['CUSTOMER_BASIS_MONTHS']} months")
    click.echo(f"cleared {people} addresses whose last purpose ended over "
               f"{config['PERSON_RETENTION_DAYS']} days ago")


COMMANDS = [verify, export, checkpoint, rebuild_state, purge_expired]
