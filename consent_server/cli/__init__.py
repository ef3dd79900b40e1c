"""`flask --app wsgi consent ...`: the operator's commands, one module per area."""
import click

from . import keys, ledger, people, setup, staff, witness


@click.group()
def consent():
    """Consent server administration."""


for module in (keys, setup, staff, ledger, people, witness):
    for command in module.COMMANDS:
        consent.add_command(command)
