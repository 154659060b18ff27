"""Fleet settings: who decides (identity), lease timing, names the services keep for themselves."""

from __future__ import annotations

import socket

import pytest

from swarmdeck.actor import current_actor, current_host
from swarmdeck.config import ConfigError, Settings, load_settings


def test_identity_names_the_manager_and_the_host_is_recorded_apart(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert current_actor(Settings(identity="alice")) == "alice"
    assert current_actor(Settings(actor="old-name")) == "old-name"  # the older key still works
    assert current_actor(Settings(identity="alice", actor="old-name")) == "alice"
    monkeypatch.setenv("LOGNAME", "ana")
    monkeypatch.setenv("USER", "ana")
    monkeypatch.delenv("SSH_CLIENT", raising=False)
    monkeypatch.delenv("SSH_CONNECTION", raising=False)
    assert current_actor(Settings()) == f"ana@{socket.gethostname()}"
    assert current_host() == socket.gethostname()
    monkeypatch.setenv("SWARMDECK_IDENTITY", "bob")
    assert current_actor(load_settings()) == "bob"


def test_lease_timing_must_leave_room_for_a_missed_renewal() -> None:
    c = Settings().collector
    assert (c.lease_ttl, c.lease_renew) == (6.0, 2.0)
    with pytest.raises(ConfigError, match="at most half of lease_ttl"):
        load_settings(collector={"lease_ttl": 4.0, "lease_renew": 3.0})


@pytest.mark.parametrize("name", ["policy", "notify", "anchor", "retention"])
def test_a_service_lease_name_is_not_an_adapter_name(name: str) -> None:
    with pytest.raises(ConfigError, match="reserved"):
        load_settings(adapters=[{"name": name, "type": "jsonl", "path": "x.jsonl"}])
