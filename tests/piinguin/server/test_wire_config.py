"""The HTTP/2 limits' flags: defaults, flags over ``PIINGUIN_*`` variables, one-line errors
naming the flag, and what the server is given."""

from __future__ import annotations

import pytest

from piinguin.options import OptionError
from piinguin.server.config import ServerConfig
from piinguin.server.guard.limits import WireLimits

AUTH = ["--insecure-no-auth"]


def test_defaults_are_the_guard_s_own() -> None:
    assert ServerConfig.from_args(AUTH, {}).wire() == WireLimits()
    assert WireLimits() == WireLimits(
        max_message_bytes=4 * 1024 * 1024,
        max_concurrent_streams=100,
        max_connections=1000,
        idle_timeout=300.0,
        body_timeout=30.0,
    )


def test_flags_and_environment_set_the_limits_and_flags_win() -> None:
    environ = {
        "PIINGUIN_MAX_CONCURRENT_STREAMS": "50",
        "PIINGUIN_MAX_CONNECTIONS": "20",
        "PIINGUIN_IDLE_TIMEOUT": "60",
        "PIINGUIN_BODY_TIMEOUT": "5.5",
    }
    config = ServerConfig.from_args(
        [*AUTH, "--max-connections=30", "--max-message-bytes=65536"], environ
    )

    assert config.wire() == WireLimits(
        max_message_bytes=65536,
        max_concurrent_streams=50,
        max_connections=30,
        idle_timeout=60.0,
        body_timeout=5.5,
    )


@pytest.mark.parametrize(
    ("argv", "environ", "message"),
    [
        (["--max-concurrent-streams=0"], {}, "--max-concurrent-streams: must be between 1 and"),
        (["--max-concurrent-streams=10001"], {}, "--max-concurrent-streams: must be between"),
        (["--max-connections=0"], {}, "--max-connections: must be between 1 and 1000000"),
        (["--idle-timeout=0"], {}, "--idle-timeout: must be between 0.01 and 86400 seconds"),
        (["--body-timeout=-1"], {}, "--body-timeout: must be between 0.01 and 86400 seconds"),
        (
            [],
            {"PIINGUIN_BODY_TIMEOUT": "soon"},
            "--body-timeout (from PIINGUIN_BODY_TIMEOUT): expected a number",
        ),
    ],
)
def test_a_bad_value_is_one_message_naming_the_flag(
    argv: list[str], environ: dict[str, str], message: str
) -> None:
    with pytest.raises(OptionError) as raised:
        ServerConfig.from_args([*AUTH, *argv], environ)

    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)
