"""``--retention``: the server started with a policy file expires records by field name."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest
from grpclib.client import Channel
from grpclib.const import Status
from grpclib.exceptions import GRPCError

from piinguin.options import OptionError
from piinguin.server.config import ServerConfig
from piinguin.v1 import (
    CreatePiiRecordRequest,
    LawfulBasis,
    PiinguinStub,
    PiiRecord,
    ReadPiiRecordRequest,
)
from tests.conftest import running_entry_point

POLICY = 'default = "730d"\n[fields]\nuser_ipaddress = "1s"\n'


def read(key: str) -> ReadPiiRecordRequest:
    return ReadPiiRecordRequest(
        modified_value=key, lawful_basis=LawfulBasis.CONSENT, purpose="retention test"
    )


@pytest.mark.socket
async def test_a_record_under_a_1s_rule_reads_not_found_two_seconds_later(
    tmp_path: Path,
) -> None:
    policy = tmp_path / "retention.toml"
    policy.write_text(POLICY)
    config = ServerConfig(port=0, insecure_no_auth=True, retention=str(policy))
    async with running_entry_point(config) as running:
        channel = Channel("127.0.0.1", running.port)
        stub = PiinguinStub(channel)
        for key, field in (("ip", "user_ipaddress"), ("mail", "email")):
            record = PiiRecord(modified_value=key, original_value="v", field_name=field)
            await stub.create_pii_record(CreatePiiRecordRequest(record=record))
        assert (await stub.read_pii_record(read("ip"))).record is not None

        await asyncio.sleep(2)  # the one test in real time: the server's own clock

        with pytest.raises(GRPCError) as refused:
            await stub.read_pii_record(read("ip"))
        assert refused.value.status is Status.NOT_FOUND
        assert (await stub.read_pii_record(read("mail"))).record is not None
        channel.close()


def test_the_retention_file_comes_from_the_flag_or_the_environment() -> None:
    flags = ["--insecure-no-auth"]
    by_flag = ServerConfig.from_args([*flags, "--retention", "/etc/r.toml"], {})
    by_env = ServerConfig.from_args(flags, {"PIINGUIN_RETENTION": "/etc/r.toml"})

    assert by_flag.retention == by_env.retention == "/etc/r.toml"
    assert ServerConfig.from_args(flags, {}).retention is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[fields]\nuser_ipaddress = "30x"\n', r"retention\.toml: fields\.user_ipaddress: '30x'"),
        ('default = "forever"\n', r"retention\.toml: default: 'forever' is not a duration"),
    ],
)
async def test_a_bad_retention_file_stops_the_start_naming_the_file_and_the_key(
    tmp_path: Path, text: str, message: str
) -> None:
    policy = tmp_path / "retention.toml"
    policy.write_text(text)
    config = ServerConfig(port=0, insecure_no_auth=True, retention=str(policy))

    with pytest.raises(OptionError, match=rf"^--retention: {tmp_path}/{message}"):
        async with running_entry_point(config):
            pass


async def test_a_missing_retention_file_stops_the_start(tmp_path: Path) -> None:
    config = ServerConfig(port=0, insecure_no_auth=True, retention=str(tmp_path / "none.toml"))

    with pytest.raises(OptionError, match=r"^--retention: cannot read .*none\.toml"):
        async with running_entry_point(config):
            pass


async def wait_for_log(log_output: Callable[[], str], event: str) -> None:
    async with asyncio.timeout(10):
        # The signal handler logs from the loop; the buffer has no event to wait on.
        while f'"event":"{event}"' not in log_output():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


@pytest.mark.socket
async def test_sighup_rereads_the_retention_file_for_the_writes_after_it(
    tmp_path: Path, log_output: Callable[[], str]
) -> None:
    policy = tmp_path / "retention.toml"
    policy.write_text('[fields]\nuser_ipaddress = "730d"\n')
    config = ServerConfig(port=0, insecure_no_auth=True, retention=str(policy))
    async with running_entry_point(config) as running:
        channel = Channel("127.0.0.1", running.port)
        stub = PiinguinStub(channel)

        async def create(key: str) -> None:
            record = PiiRecord(modified_value=key, original_value="v", field_name="user_ipaddress")
            await stub.create_pii_record(CreatePiiRecordRequest(record=record))

        await create("before")
        await asyncio.to_thread(policy.write_text, '[fields]\nuser_ipaddress = "1s"\n')
        os.kill(os.getpid(), signal.SIGHUP)
        await wait_for_log(log_output, "retention_reloaded")
        await create("after")

        await asyncio.to_thread(policy.write_text, 'default = "forever"\n')
        os.kill(os.getpid(), signal.SIGHUP)
        await wait_for_log(log_output, "retention_reload_failed")
        await create("after the failed reload")  # still under the 1s rule

        await asyncio.sleep(2)

        # Written before the reload: the lifetime it was written with.
        assert (await stub.read_pii_record(read("before"))).record is not None
        for key in ("after", "after the failed reload"):
            with pytest.raises(GRPCError) as refused:
                await stub.read_pii_record(read(key))
            assert refused.value.status is Status.NOT_FOUND
        channel.close()
    assert "forever" in log_output()  # the failure names what is wrong with the file
