"""`flask --app wsgi consent ...`: the operator's commands, one module per area."""
import click

from . import ledger, people, setup, staff, witness


@click.group()
def consent():
    """Consent server administration."""


for module in (setup, staff, ledger, people, witness):
    for command in module.COMMANDS:
        consent.add_command(command)
