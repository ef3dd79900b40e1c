"""`flask consent` commands for people's mail and the marketing team's pre-send check."""
import sys
import time

import click
from flask import current_app

from ..errors import DomainError
from ..extensions import db
from ..models import utcnow
from ..people import marketing, subscriptions, webhooks
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
@click.option("--column", default=None,
              help="The address column, when not found by its name (email, e-post, ...).")
@click.option("--out", type=click.File("wb"), default="-",
              help="Where to write the result CSV (default: standard output).")
@click.argument("file", type=click.File("rb"))
@with_keys
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


@click.command("add-webhook")
@click.option("--url", required=True, help="The endpoint (https).")
@click.option("--event", "events", multiple=True, required=True,
              type=click.Choice(webhooks.EVENT_TYPES), help="An event type it wants (repeat).")
@with_keys
def add_webhook(url, events):
    """Register a marketing tool's webhook endpoint; prints its signing secret once."""
    try:
        endpoint_id, secret = webhooks.add_endpoint(db.session, url, list(events), utcnow())
    except DomainError as error:
        raise click.ClickException(error.detail) from None
    click.echo(f"endpoint {endpoint_id}; its secret (shown once, for verifying signatures):")
    click.echo(secret)


@click.command("disable-webhook")
@click.argument("endpoint_id", type=int)
@with_keys
def disable_webhook(endpoint_id):
    """Stop sending to a webhook endpoint."""
    try:
        webhooks.disable_endpoint(db.session, endpoint_id, utcnow())
    except DomainError as error:
        raise click.ClickException(error.detail) from None
    click.echo(f"endpoint {endpoint_id} disabled")


@click.command("list-webhooks")
@with_keys
def list_webhooks():
    """Every webhook endpoint, its event types, what waits, its last deliveries and failures."""
    for endpoint in webhooks.endpoints(db.session):
        state = "disabled" if endpoint["disabled_at"] else "active"
        click.echo(f"{endpoint['id']} {state} {endpoint['url']} {' '.join(endpoint['events'])}"
                   f" waiting={endpoint['waiting']}")
        for sent in endpoint["recent"]:
            result = "delivered" if sent["delivered_at"] else f"failed ({sent['error']})"
            click.echo(f"  {sent['msg_id']} {sent['type']} attempts={sent['attempts']} {result}")


@click.command("deliver-webhooks")
@click.option("--loop", is_flag=True, help="Keep sending (else one pass, for cron).")
@click.option("--interval", default=5.0, show_default=True, help="Seconds between passes.")
@with_keys
def deliver_webhooks(loop, interval):
    """Send the webhook messages that are due (at least once, with back-off)."""
    while True:
        sent, failed = webhooks.deliver(db.session, utcnow())
        click.echo(f"delivered {sent}, failed {failed}")
        if not loop:
            return
        time.sleep(interval)


COMMANDS = [send_pending, check, add_webhook, disable_webhook, list_webhooks, deliver_webhooks]
