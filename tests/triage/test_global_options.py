"""Global options (--home, --passphrase-file, --as) work before and after every subcommand; --help shows
every command's summary whole."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.triage.helpers import TEST_CONFIG, Server, Triage, make_request
from triage.cli import main
from triage.policy import parse_policy

# The smallest arguments each command needs to get as far as opening the home; commands added later
# run with none and must still accept the global options.
ARGS: dict[str, list[str]] = {
    "import": ["BUNDLE"],
    "pin-server": ["BUNDLE"],
    "show": ["abcd"],
    "set": ["abcd", "--status", "closed"],
    "ack": ["--out", "OUT"],
    "grant": ["Bob"],
    "keygen": ["--name", "Zed"],
}


NO_KEY_NEEDED = {"policy"}
STRICT = {*ARGS, *NO_KEY_NEEDED, "list", "info"}


@pytest.mark.parametrize("position", ["before", "after"])
@pytest.mark.parametrize("command", sorted(main.commands))
def test_global_options_are_accepted_before_and_after_every_subcommand(
    command: str, position: str, triage: Triage, server: Server, tmp_path: Path
) -> None:
    # Given a home with Alice's key, a bundle, and an "--as" naming a caseworker who is not there
    alice = triage.keygen("Alice")
    bundle = server.bundle(tmp_path / "b.evb", [server.entry(make_request(), [alice])])
    args = [{"BUNDLE": str(bundle), "OUT": str(tmp_path / "ack.eva")}.get(a, a) for a in ARGS.get(command, [])]
    globals_ = ["--home", str(triage.home), "--passphrase-file", str(triage.passphrase_file), "--as", "Nobody"]
    argv = [*globals_, command, *args] if position == "before" else [command, *args, *globals_]
    # When the command runs with the global options in that place
    result = CliRunner().invoke(main, argv, obj=TEST_CONFIG)
    # Then click accepted them, and the command used that home and that caseworker name
    assert "No such option" not in result.output, result.output
    assert "Traceback" not in result.output
    if command not in STRICT:
        # A command added after this test: its own arguments are unknown here, so only check that the
        # global options were taken (an error, if any, is about something else).
        assert "--home" not in result.output and "--as" not in result.output, result.output
    elif command == "keygen":
        assert result.exit_code == 0, result.output
        assert (triage.home / "Zed.key").is_file()
    elif command in NO_KEY_NEEDED:
        assert result.exit_code == 0, result.output
    else:
        assert result.exit_code != 0
        assert "No key named 'Nobody'" in result.output and str(triage.home) in result.output, result.output


def test_the_equals_form_and_the_double_dash_are_respected(triage: Triage) -> None:
    triage.keygen("Alice")
    info = CliRunner().invoke(
        main, ["info", f"--home={triage.home}", f"--passphrase-file={triage.passphrase_file}"], obj=TEST_CONFIG
    )
    assert info.exit_code == 0 and "Alice" in info.output, info.output
    # After "--" a word is an argument, never a global option
    after = CliRunner().invoke(main, ["--home", str(triage.home), "grant", "--", "--home"], obj=TEST_CONFIG)
    assert "No caseworker named '--home'" in after.output or "passphrase" in after.output.lower(), after.output


def test_a_missing_value_after_the_subcommand_is_named() -> None:
    result = CliRunner().invoke(main, ["list", "--home"], obj=TEST_CONFIG)
    assert result.exit_code == 2 and "--home" in result.output and "requires an argument" in result.output


def _words(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def test_top_level_help_shows_every_summary_whole() -> None:
    result = CliRunner().invoke(main, ["--help"], terminal_width=80)
    assert result.exit_code == 0
    shown = _words(result.output)
    for name, command in main.commands.items():
        first_sentence = _words(command.help or "").split(". ")[0].strip().rstrip(".")
        assert first_sentence in shown, (name, first_sentence)
        assert f"{name} " in shown
    assert "..." not in result.output.split("Commands:")[1]


def test_policy_help_points_at_something_the_laptop_has() -> None:
    # --policy's help names `triage policy`, which prints the guide and the shipped default
    listing = CliRunner().invoke(main, ["list", "--help"], terminal_width=200)
    assert "triage policy" in listing.output and "docs/POLICY.md" not in listing.output
    guide = CliRunner().invoke(main, ["policy"])
    assert guide.exit_code == 0 and "## Levels" in guide.output and "emergency" in guide.output
    default = CliRunner().invoke(main, ["policy", "--toml"])
    assert default.exit_code == 0
    assert parse_policy(default.output, source="printed").rules
