"""`flask consent` commands for people's mail and the marketing team's pre-send check."""
import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from ..errors import DomainError
from ..extensions import db
from ..models import utcnow
from ..people import marketing, subscriptions


@click.command("send-pending")
@with_appcontext
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
@click.option("--column", default=None,
              help="The address column, when not found by its name (email, e-post, ...).")
@click.option("--out", type=click.File("wb"), default="-",
              help="Where to write the result CSV (default: standard output).")
@click.argument("file", type=click.File("rb"))
@with_appcontext
def check(purpose, product_category, column, out, file):
    """Check a CSV as a newsletter tool or a spreadsheet exported it: the same file comes back
    with consent_status and consent_reason; the counts per reason go to standard error."""
    try:
        table = marketing.read_csv(file.read(), int(current_app.config["CHECK_MAX_ADDRESSES"]),
                                   column)
        with click.progressbar(length=len(table.rows), label="checking",
                               file=sys.stderr) as bar:
            results = marketing.check(db.session, purpose, table.addresses(), product_category,
                                      progress=bar.update)
    except DomainError as error:
        raise click.ClickException(error.detail) from None
    out.write(marketing.check_csv(table, results))
    counts = marketing.summary(results)
    click.echo(f"{counts['allowed']} of {counts['checked']} allowed for {purpose}", err=True)
    for reason, count in counts["reasons"].items():
        click.echo(f"  {reason}: {count}", err=True)


COMMANDS = [send_pending, check]
