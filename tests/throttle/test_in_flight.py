"""The slots of requests in flight with one credential, step by step."""

from __future__ import annotations

from authhygiene.throttle.in_flight import InFlight

KEY, PROOF, OTHER_PROOF = 1, 11, 12


def test_an_unproven_credential_gets_its_budget_in_flight_and_no_more() -> None:
    flights = InFlight(64)
    tickets = [flights.try_enter(KEY, 3, PROOF) for _ in range(4)]
    assert [t is not None for t in tickets] == [True, True, True, False]


def test_a_success_proves_the_credential_and_its_calls_never_wait() -> None:
    flights = InFlight(64)
    ticket = flights.try_enter(KEY, 1, PROOF)
    assert ticket is not None
    assert flights.try_enter(KEY, 1, PROOF) is None
    flights.leave(ticket)  # no failure counted meanwhile: proven
    assert flights.proven(PROOF)
    assert all(flights.try_enter(KEY, 1, PROOF) is not None for _ in range(10))
    # Another password for the same user name is not proven by it.
    assert not flights.proven(OTHER_PROOF)


def test_a_failure_spends_the_budget_and_unproves() -> None:
    flights = InFlight(64)
    tickets = [flights.try_enter(KEY, 2, PROOF) for _ in range(2)]
    flights.failed(KEY, PROOF, 1)
    flights.failed(KEY, PROOF, 0)
    for ticket in tickets:
        assert ticket is not None
        flights.leave(ticket)
    assert not flights.proven(PROOF)


def test_a_slot_given_back_unused_proves_nothing() -> None:
    flights = InFlight(64)
    ticket = flights.try_enter(KEY, 1, PROOF)
    assert ticket is not None
    flights.leave(ticket, prove=False)
    assert not flights.proven(PROOF)
    flights.leave(ticket)  # once per ticket
    assert not flights.proven(PROOF)


def test_a_request_that_waited_its_time_goes_on_with_a_slot_that_can_prove() -> None:
    flights = InFlight(64)
    assert flights.try_enter(KEY, 1, PROOF) is not None  # held by a request that never ends
    ticket = flights.force_enter(KEY, OTHER_PROOF)
    flights.leave(ticket)
    assert flights.proven(OTHER_PROOF)


def test_the_tables_are_bounded() -> None:
    flights = InFlight(16)
    for key in range(1000):
        ticket = flights.try_enter(key, 1, key + 10_000)
        assert ticket is not None
        if key % 2:
            flights.failed(key, key + 10_000, 0)
        flights.leave(ticket)
    assert len(flights._proven) <= 16
    assert len(flights._failures) <= 16
    assert len(flights._left) <= 16
    assert not flights._flying
