"""`flask consent` commands for people's mail and the marketing team's pre-send check."""
import csv
import sys

import click
from flask import current_app

from ..errors import DomainError
from ..extensions import db
from ..models import utcnow
from ..people import marketing, subscriptions
from .keys import with_keys


@click.command("send-pending")
@with_keys
def send_pending():
    """Send every confirmation mail still due (a sign-up whose mail failed); exit 1 if any
    still fails."""
    sent, failed = subscriptions.send_pending(db.session, utcnow())
    click.echo(f"sent {sent} confirmation mails, {failed} still failing")
    if failed:
        sys.exit(1)


@click.command("check")
@click.option("--purpose", required=True, help="newsletter or marketing")
@click.option("--product-category", default=None, help="For the customer basis (marketing).")
@click.option("--out", type=click.File("w", encoding="utf-8"), default="-",
              help="Where to write the result CSV (default: standard output).")
@click.argument("file", type=click.File("r", encoding="utf-8-sig"))
@with_keys
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


COMMANDS = [send_pending, check]
