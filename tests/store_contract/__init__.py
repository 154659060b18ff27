"""The store contract: what every store backend must do, tested through its public API only.

swarmdeck's store is SQLite today; the next step adds PostgreSQL behind the same
API. These tests are the definition of "the same": they never write SQL, never
touch a connection, and run once per backend listed in ``backends.BACKENDS``.
SQLite-only behaviour (file modes, WAL, migrating a file in place, cancellation
against SQLite's write lock) stays in ``tests/test_store.py``.

What a backend must provide
---------------------------
A store object with the methods of :class:`swarmdeck.store.db.Store`:

* **lifecycle**: ``open(location, clock=...)`` creating or migrating the database,
  ``close()``, ``async with``; ``clock`` is the only source of "now".
* **append** (``test_append``): ``append(events, origin=)`` is one atomic batch,
  idempotent on ``(source, id)`` (duplicates are counted, change nothing and do not
  move ``rev``); projections (agents, tasks, workflows, escalations) are folded
  from the new events only: counters add, last values win, a value not given
  never overwrites. An escalation raise that clashes with a decided one, or with
  one of another source, is kept as a dead letter and changes nothing.
* **change feed** (``test_feed``): ``rev()`` grows with every committed change
  (append, decision, delivery attempt, health, governance change) and every
  projection row carries the ``rev`` that last touched it (``since_rev=``);
  ``events_since(seq, limit, kinds=, upto=, since_ts=)`` returns events in seq
  order; ``last_seq()``; ``recent_events()``; ``data_version()`` changes when
  another connection commits; ``prune_events(older_than)`` deletes raw events but
  keeps projections, the audit and the newest event.
* **decisions** (``test_decide``): ``decide()`` validates (reject/reroute need a
  reason, reroute a target, answer its text, the action is one of ``Action``) and
  is a compare-and-set across connections: exactly one of two concurrent
  decisions wins and the loser gets ``AlreadyDecided`` naming who won and when.
  The decision, its outbox row (addressed to the escalation's ``origin``) and its
  audit record commit together or not at all. ``act_on_task`` raises a synthetic
  escalation through the task's own origin when none is open.
* **outbox** (``test_outbox``): ``due_deliveries(adapters, limit)`` lists what is
  due, oldest first; ``delivery_succeeded`` acknowledges; ``delivery_failed(err,
  retry_at)`` backs off until ``retry_at`` or gives up with None; final outcomes
  are audited; ``outbox_entry(decision_id)`` finds a decision's row.
* **audit** (``test_audit``): a SHA-256 chain; ``audit_verify()`` names edited,
  deleted (also from the tail) and reordered records. The backend's test harness
  provides the tampering (``backends.Tamper``), standing in for an attacker with
  write access to the database.
* **dead letters and adapter state** (``test_state``): bounded raw input with
  where and why; ``append_with_state`` saves positions and rejected input in the
  same transaction as the events; key/value state per adapter; health.
* **named queries** (``test_queries``): every function of
  :mod:`swarmdeck.store.queries` and :mod:`swarmdeck.store.governance`, with the
  results the services above rely on.

A backend joins by adding a :class:`backends.Backend` to ``BACKENDS``: how to
open a store on a fresh database, and how to tamper with its audit table.
"""
