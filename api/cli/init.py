"""`decisions init`: a commented starter policies.yaml, the first step on a new machine."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import click

from api.cli.common import Context, pass_context
from api.cli.root import main


def starter_policy() -> str:
    """The policy this package ships (the repository's policies.yaml, every section commented)."""
    return files("policy").joinpath("starter/policies.yaml").read_text(encoding="utf-8")


@main.command()
@pass_context
def init(obj: Context) -> None:
    """Write a commented starter policies.yaml (to --policy / DECISIONS_POLICY; default ./policies.yaml).

    Never overwrites: an existing file is left as it is.
    """
    target = Path(obj.policy_path)
    try:
        # "x": created here or refused, with no window in which another writer's file is replaced.
        with target.open("x", encoding="utf-8") as out:
            out.write(starter_policy())
    except FileExistsError:
        raise click.ClickException(f"{target} already exists; it was left as it is") from None
    except OSError as exc:
        raise click.ClickException(f"cannot write {target}: {exc.strerror}") from None
    click.echo(f"Wrote {target}: a starter policy with example people, tiers and categories. Next:")
    for step in [
        f"edit {target} (people, roles, categories), then: decisions policy check",
        "decisions db upgrade",
        "decisions token create NAME",
        "decisions serve",
    ]:
        click.echo(f"  {step}")
