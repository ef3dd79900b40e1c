"""`flask consent` commands on the ledger: verify, export, checkpoint, rebuild the state and
the Merkle tree, expire and erase by age."""
import json
import os
import sys

import click
from flask import current_app

from .. import ledger, server_keys
from ..consent import devices
from ..errors import DomainError
from ..extensions import db
from ..ledger import bundles, exports, note, signing, transparency, treestore
from ..models import utcnow
from ..people import retention
from ..people.persons import subject_key
from ..staff import access_log
from .keys import with_keys


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
@click.option("--from", "old", type=click.File("r", encoding="utf-8"),
              help="An older signed checkpoint (GET /log/checkpoint); with --to.")
@click.option("--to", "new", type=click.File("r", encoding="utf-8"),
              help="A newer one: prove with the tree that it extends --from (no chain walk).")
@with_keys
def verify(checkpoint_file, old, new):
    """Walk the ledger's hash chain and check the state; exit 1 and say where it is broken.
    With --from and --to, check a consistency proof between two signed checkpoints instead."""
    if (old is None) != (new is None):
        raise click.UsageError("--from and --to go together")
    if old is not None:
        try:
            click.echo(transparency.check_consistency(
                db.session, current_app.extensions["consent_signing_key"],
                note.origin(current_app.config["PUBLIC_URL"]), old.read(), new.read()))
        except ValueError as error:
            click.echo(f"NOT CONSISTENT: {error}", err=True)
            sys.exit(1)
        return
    result = ledger.verify(db.session)
    if result.ok and checkpoint_file is not None:
        try:
            given = signing.load_checkpoint(checkpoint_file.read())
        except ValueError:
            given = None
        problem = signing.check_checkpoint(db.session, current_app.extensions[
            "consent_signing_key"], given) or transparency.check_tree(
            db.session, current_app.extensions["consent_signing_key"], given)
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


@click.command("verify-bundle")
@click.argument("bundle_file", type=click.File("r", encoding="utf-8"))
@click.option("--key", "log_key", help="The log's verifier key, or a file holding it "
              "(default: this server's, as GET /log/key gives it).")
@with_keys
def verify_bundle(bundle_file, log_key):
    """Check one subject's proof bundle with the log's key alone: its checkpoint's signature,
    every event's hash and its inclusion proof; exit 1 and say why not."""
    if log_key is None:
        log_key = transparency.verifier_key(current_app.extensions["consent_signing_key"],
                                            note.origin(current_app.config["PUBLIC_URL"]))
    elif os.path.isfile(log_key):
        with open(log_key, encoding="utf-8") as file:
            log_key = file.read()
    try:
        click.echo(bundles.check(json.loads(bundle_file.read()), log_key))
    except ValueError as error:
        click.echo(f"NOT OK: {error}", err=True)
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
@click.option("--site", metavar="ID", help="Events recorded for this site only.")
@with_keys
def export(fmt, out, **filters):
    """Export the ledger in sequence order (every field, so the file re-verifies offline)."""
    try:
        if filters["subject"] is not None:
            filters["subject"] = subject_key(db.session, filters["subject"])
        if filters["site"] is not None:
            current_app.extensions["consent_sites"].named(filters["site"])
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
@with_keys
def checkpoint(out):
    """Print a signed checkpoint of the ledger's head (JSON); keep it somewhere else."""
    signed = transparency.json_checkpoint(db.session,
                                          current_app.extensions["consent_signing_key"])
    access_log.record(db.session, None, access_log.CHECKPOINT, utcnow(), f"seq {signed['seq']}",
                      actor=access_log.CLI)
    text = json.dumps(signed, indent=2) + "\n"
    if out:
        with open(out, "w", encoding="utf-8") as file:
            file.write(text)
        click.echo(f"checkpoint written to {out}", err=True)
    else:
        click.echo(text, nl=False)


@click.command("rebuild-state")
@with_keys
def rebuild_state():
    """Rebuild the current-state table from the ledger alone."""
    count = ledger.rebuild_state(db.session)
    click.echo(f"rebuilt the state of {count} subjects")


@click.command("rebuild-tree")
@with_keys
def rebuild_tree():
    """Make the Merkle tree over the ledger again from the events alone."""
    size = treestore.rebuild(db.session)
    click.echo(f"rebuilt the Merkle tree: {size} leaves")


@click.command("purge-expired")
@with_keys
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


@click.command("rotate-signing-key")
@click.option("--out", type=click.Path(dir_okay=False, writable=True),
              help="Write the new private key to this file instead of instance/signing_key "
                   "(needed when CONSENT_SIGNING_KEY comes from the environment: put it there).")
@with_keys
def rotate_signing_key(out):
    """Make a new Ed25519 key the signer of checkpoints and receipts. Every earlier key stays
    published at /.well-known/jwks.json, so what it signed still verifies; the retired private
    key may then be deleted. Restart the servers to sign with the new key."""
    current = current_app.extensions["consent_signing_key"]
    in_files = "SIGNING_KEY" in current_app.extensions.get("consent_key_files", ())
    if out is None and not in_files:
        raise click.ClickException("CONSENT_SIGNING_KEY is set in the environment, not read "
                                   "from instance/signing_key: give --out FILE and put the new "
                                   "key where CONSENT_SIGNING_KEY comes from")
    signing.publish(db.session, current)  # its period started no later than now
    text = signing.generate()
    new = signing.SigningKey(signing.parse(text))
    path = out or os.path.join(current_app.instance_path, "signing_key")
    if out is None:
        retired = f"{path}.retired-{current.kid}"
        os.replace(path, retired)
        click.echo(f"the retired private key is in {retired}: delete it when you like (what "
                   "it signed stays verifiable through its published public key)", err=True)
    server_keys.write(path, text)
    signing.publish(db.session, new)
    access_log.record(db.session, None, access_log.SIGNING_KEY_ROTATED, utcnow(),
                      f"{current.kid} retired, {new.kid} signs", actor=access_log.CLI)
    click.echo(f"signing key {new.kid} signs from now on (written to {path}); {current.kid} "
               "is retired and stays published at /.well-known/jwks.json; restart the servers")


COMMANDS = [verify, verify_bundle, export, checkpoint, rebuild_state, rebuild_tree,
            purge_expired, rotate_signing_key]
