"""`flask consent witness`: a witness of a consent log (C2SP tlog-witness), run by the DPO or an
external auditor, daily."""
import sys
from pathlib import Path

import click

from ..ledger import cosign, signing
from ..ledger import witness as witnessing


@click.command("witness")
@click.option("--log", "log", required=True, help="The log's base URL, e.g. "
              "https://consent.example.no")
@click.option("--state", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="The witness's folder: the log's pinned key and the last checkpoint seen.")
@click.option("--key", "key_file", type=click.File("r", encoding="ascii"), required=True,
              help="The witness's Ed25519 private key (as CONSENT_SIGNING_KEY takes one).")
@click.option("--name", default="consent-witness", show_default=True,
              help="The witness's name in its cosignatures and key.")
def witness(log, state, key_file, name):
    """Check that the log's checkpoint extends the last one seen (refuse a fork or a rollback),
    cosign it and give the log the cosignature; exit 1 and say why on a refusal."""
    try:
        private = signing.parse(key_file.read())
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--key") from None
    public = private.public_key().public_bytes_raw()
    try:
        line = witnessing.witness(log, state, private, name)
    except witnessing.Refused as error:
        click.echo(f"REFUSED: {error}", err=True)
        sys.exit(1)
    except (OSError, ValueError) as error:  # unreachable, not our log's key, not a checkpoint
        click.echo(f"FAILED: {error}", err=True)
        sys.exit(2)
    click.echo(line)
    click.echo(f"witness key (for the log's CONSENT_WITNESSES): "
               f"{cosign.verifier_key(name, public)}", err=True)


COMMANDS = [witness]
