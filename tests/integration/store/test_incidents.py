"""The watch's incidents in the store, the same contract on SQLite, PostgreSQL and in memory: one
open incident per site, host and kind (also when two replicas record the same bad probe at once),
updated while it lasts, closed once, and its one Slack message recorded by the first poster."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from bot.app.watch.incidents import BadProbe, IncidentStore
from bot.store.incidents import incidents_for

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


@pytest.fixture
def incidents(store) -> Iterator[IncidentStore]:
    yield incidents_for(store)


def bad(kind: str = "hung", host: str = "web02", probes: int = 3, at: datetime = NOW, evidence: str = "e3") -> BadProbe:
    return BadProbe(site="shop-web", host=host, kind=kind, since=NOW - timedelta(minutes=2), at=at, probes=probes,
                    evidence=evidence, first_evidence="e1", offer="worker")


def test_an_incident_opens_once_and_is_updated_while_it_lasts(incidents):
    opened, new = incidents.record_bad(bad())
    assert new and opened.id.startswith("i-") and opened.is_open
    assert (opened.opened_at, opened.probes, opened.first_evidence, opened.offer) == (
        NOW - timedelta(minutes=2), 3, "e1", "worker")
    later, new_again = incidents.record_bad(bad(probes=4, at=NOW + timedelta(minutes=1), evidence="e4"))
    assert not new_again and later.id == opened.id
    assert (later.probes, later.evidence, later.updated_at) == (4, "e4", NOW + timedelta(minutes=1))
    assert [i.id for i in incidents.incidents(site="shop-web", open_only=True)] == [opened.id]


def test_each_host_and_kind_is_its_own_incident(incidents):
    ids = {incidents.record_bad(bad(kind=k, host=h))[0].id for k in ("hung", "memory") for h in ("web01", "web02")}
    assert len(ids) == 4 and len(incidents.incidents(open_only=True)) == 4


def test_closing_is_once_and_a_later_bad_probe_opens_a_new_incident(incidents):
    first, _ = incidents.record_bad(bad())
    closed = incidents.close_incident(first.id, NOW + timedelta(minutes=3), "r-abc234")
    assert closed is not None and not closed.is_open and closed.recovered_by == "r-abc234"
    assert incidents.close_incident(first.id, NOW + timedelta(minutes=4), None) is None
    again, new = incidents.record_bad(bad(at=NOW + timedelta(minutes=5)))
    assert new and again.id != first.id
    assert [i.id for i in incidents.incidents(open_only=True)] == [again.id]
    assert {i.id for i in incidents.incidents(site="shop-web")} == {first.id, again.id}
    assert incidents.incidents(site="intranet") == []


def test_two_replicas_recording_the_same_bad_probe_at_once_open_one_incident(incidents):
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: incidents.record_bad(bad()), range(8)))
    assert len({incident.id for incident, _ in results}) == 1
    assert sum(1 for _, opened in results if opened) == 1


def test_the_first_recorded_message_of_an_incident_wins(incidents):
    incident, _ = incidents.record_bad(bad())
    assert incidents.remember_incident_message(incident.id, "C0SHOP", "1.1") == ("C0SHOP", "1.1")
    assert incidents.remember_incident_message(incident.id, "C0SHOP", "2.2") == ("C0SHOP", "1.1")
    assert incidents.incidents()[0].ts == "1.1"
    found = incidents.get_incident(incident.id)
    assert found is not None and (found.channel, found.ts) == ("C0SHOP", "1.1")
    assert incidents.get_incident("i-nosuch") is None
