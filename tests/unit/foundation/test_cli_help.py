"""Every `mycrypto` command and subcommand answers `--help` with its own description."""
import click
from click.testing import CliRunner

from mycrypto.cli import main


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    out = []
    for name, command in sorted(group.commands.items()):
        out.append((prefix + (name,), command))
        if isinstance(command, click.Group):
            out.extend(_commands(command, prefix + (name,)))
    return out


def test_every_command_has_help():
    commands = _commands(main)
    names = {" ".join(path) for path, _ in commands}
    assert {"up", "serve", "migrate", "db", "db report", "maintenance"} <= names
    runner = CliRunner()
    for path, command in commands:
        result = runner.invoke(main, [*path, "--help"], prog_name="mycrypto")
        assert result.exit_code == 0, (path, result.output)
        assert f"Usage: mycrypto {' '.join(path)}" in result.output, path
        first_line = " ".join((command.help or "").split("\n")[0].split())
        assert first_line and first_line in " ".join(result.output.split()), path  # the docstring is the help
