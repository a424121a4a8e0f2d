"""The retention policy: durations, the TOML file, and the expiry it gives a write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from storage import MemoryStorage, Record
from storage.retention import Retention, RetentionError, parse_duration
from tests.storage.conftest import ManualClock

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "lifetime"),
    [
        ("1s", timedelta(seconds=1)),
        ("90m", timedelta(minutes=90)),
        ("36h", timedelta(hours=36)),
        ("730d", timedelta(days=730)),
    ],
)
def test_durations_take_seconds_minutes_hours_and_days(text: str, lifetime: timedelta) -> None:
    assert parse_duration(text) == lifetime


@pytest.mark.parametrize("text", ["", "30", "d", "30w", "1.5d", "-1d", " 30d", "30 d", "0s"])
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=repr(text)):
        parse_duration(text)


def test_the_file_s_fields_and_default_set_each_record_s_expiry() -> None:
    retention = Retention.from_toml(
        'default = "730d"\n[fields]\nuser_ipaddress = "30d"\n', source="retention.toml"
    )

    assert retention.expires_at("user_ipaddress", NOW) == NOW + timedelta(days=30)
    assert retention.expires_at("user_id", NOW) == NOW + timedelta(days=730)


def test_without_a_default_other_fields_never_expire() -> None:
    retention = Retention.from_toml('[fields]\nip = "1s"\n', source="r.toml")

    assert retention.expires_at("user_id", NOW) is None
    assert Retention().expires_at("ip", NOW) is None


def test_an_expiry_is_rounded_up_to_a_whole_second() -> None:
    retention = Retention(timedelta(seconds=1))

    assert retention.expires_at("", NOW + timedelta(microseconds=1)) == NOW + timedelta(seconds=2)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('default = "30x"', r"^/etc/r\.toml: default: '30x' is not a duration"),
        ('[fields]\nuser_ipaddress = "soon"', r"^/etc/r\.toml: fields\.user_ipaddress: 'soon'"),
        ("[fields]\nip = 30", r'^/etc/r\.toml: fields\.ip: must be a string such as "30d"'),
        ('fields = "1d"', r"^/etc/r\.toml: fields: must be a table"),
        ('defualt = "1d"', r"^/etc/r\.toml: unknown key 'defualt'"),
        ("default = ", r"^/etc/r\.toml: not TOML"),
    ],
)
def test_a_bad_file_is_refused_naming_the_file_and_the_key(text: str, message: str) -> None:
    with pytest.raises(RetentionError, match=message):
        Retention.from_toml(text, source="/etc/r.toml")


async def test_the_memory_backend_prunes_expired_records() -> None:
    clock = ManualClock(NOW)
    storage = MemoryStorage(clock=clock, retention=Retention(None, {"ip": timedelta(seconds=1)}))
    await storage.put_many([Record("a", "1", "ip"), Record("b", "2", "ip"), Record("c", "3")])
    clock.advance(seconds=0.5)
    await storage.put_many([Record("b", "2", "ip")])  # extended: stays
    clock.advance(seconds=1)

    await storage.put_many([])

    assert len(storage) == 2
    got = await storage.get_many(["a", "b", "c"])
    assert [r.modified_value if isinstance(r, Record) else r for r in got] == [None, "b", "c"]
