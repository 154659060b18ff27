"""SQLite schema as an ordered list of migrations, tracked in ``PRAGMA user_version``.

A migration is appended, never edited: a database created by any earlier release
upgrades by running the ones it has not seen, and a database written by a newer
release is refused with a clear message instead of being misread.

Times are REAL seconds since the epoch (UTC): compact, sortable, cheap to compare.
Every projection row carries ``rev``, the store-wide change counter of the
transaction that last touched it, so a reader can ask "what changed since rev N".
``agents.rev`` and ``tasks.rev`` are deliberately not indexed: those rows are
rewritten by nearly every ingest batch, and the index cost 5-10% of ingest
throughput, while scanning ten thousand agents for a TUI poll takes about a
millisecond.
"""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 1: the whole initial schema.
    """
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    ) WITHOUT ROWID;
    INSERT INTO meta(key, value) VALUES ('rev', 0);

    CREATE TABLE events (
        seq      INTEGER PRIMARY KEY AUTOINCREMENT,
        source   TEXT NOT NULL,
        eid      TEXT NOT NULL,
        ts       REAL NOT NULL,
        kind     TEXT NOT NULL,
        agent    TEXT,
        task     TEXT,
        workflow TEXT,
        data     TEXT
    );
    CREATE UNIQUE INDEX events_source_eid ON events(source, eid);
    CREATE INDEX events_agent ON events(agent, seq) WHERE agent IS NOT NULL;

    CREATE TABLE agents (
        name       TEXT PRIMARY KEY,
        role       TEXT NOT NULL DEFAULT '',
        model      TEXT,
        host       TEXT,
        state      TEXT NOT NULL DEFAULT 'idle',
        activity   TEXT NOT NULL DEFAULT '',
        task       TEXT,
        workflow   TEXT,
        first_seen REAL NOT NULL,
        last_seen  REAL NOT NULL,
        events     INTEGER NOT NULL DEFAULT 0,
        tokens_in  INTEGER NOT NULL DEFAULT 0,
        tokens_out INTEGER NOT NULL DEFAULT 0,
        cost_usd   REAL NOT NULL DEFAULT 0,
        origin     TEXT NOT NULL,
        rev        INTEGER NOT NULL
    );

    CREATE TABLE tasks (
        id          TEXT PRIMARY KEY,
        title       TEXT NOT NULL DEFAULT '',
        workflow    TEXT,
        parent      TEXT,
        depends_on  TEXT NOT NULL DEFAULT '[]',
        assignee    TEXT,
        state       TEXT NOT NULL DEFAULT 'pending',
        note        TEXT NOT NULL DEFAULT '',
        pct         REAL,
        result      TEXT,
        error       TEXT,
        retryable   INTEGER,
        failures    INTEGER NOT NULL DEFAULT 0,
        tokens_in   INTEGER NOT NULL DEFAULT 0,
        tokens_out  INTEGER NOT NULL DEFAULT 0,
        cost_usd    REAL NOT NULL DEFAULT 0,
        created_ts  REAL NOT NULL,
        started_ts  REAL,
        ended_ts    REAL,
        updated_ts  REAL NOT NULL,
        origin      TEXT NOT NULL,
        rev         INTEGER NOT NULL
    );
    CREATE INDEX tasks_workflow ON tasks(workflow);

    CREATE TABLE workflows (
        name       TEXT PRIMARY KEY,
        nodes      TEXT NOT NULL DEFAULT '[]',
        defined    INTEGER NOT NULL DEFAULT 0,
        updated_ts REAL NOT NULL,
        rev        INTEGER NOT NULL
    );

    CREATE TABLE edges (
        workflow TEXT NOT NULL,
        src      TEXT NOT NULL,
        dst      TEXT NOT NULL,
        kind     TEXT NOT NULL,
        PRIMARY KEY (workflow, src, dst, kind)
    );

    CREATE TABLE escalations (
        id              TEXT PRIMARY KEY,
        kind            TEXT NOT NULL,
        title           TEXT NOT NULL,
        body            TEXT NOT NULL DEFAULT '',
        severity        TEXT NOT NULL,
        options         TEXT,
        deadline        REAL,
        reroute_targets TEXT,
        agent           TEXT,
        task            TEXT,
        workflow        TEXT,
        source          TEXT NOT NULL,
        origin          TEXT NOT NULL,
        state           TEXT NOT NULL DEFAULT 'open',
        raised_ts       REAL NOT NULL,
        raised_seq      INTEGER NOT NULL,
        decided_ts      REAL,
        decided_by      TEXT,
        action          TEXT,
        reason          TEXT,
        target          TEXT,
        rev             INTEGER NOT NULL
    );
    CREATE INDEX escalations_state ON escalations(state, raised_ts);
    CREATE INDEX escalations_rev ON escalations(rev);

    CREATE TABLE decisions (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        escalation TEXT NOT NULL REFERENCES escalations(id),
        action     TEXT NOT NULL,
        reason     TEXT,
        target     TEXT,
        answer     TEXT,
        actor      TEXT NOT NULL,
        ts         REAL NOT NULL
    );
    CREATE INDEX decisions_escalation ON decisions(escalation);

    CREATE TABLE outbox (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        decision     INTEGER NOT NULL UNIQUE REFERENCES decisions(id),
        escalation   TEXT NOT NULL REFERENCES escalations(id),
        adapter      TEXT NOT NULL,
        state        TEXT NOT NULL DEFAULT 'pending',
        attempts     INTEGER NOT NULL DEFAULT 0,
        next_attempt REAL NOT NULL,
        last_error   TEXT,
        delivered_ts REAL
    );
    CREATE INDEX outbox_due ON outbox(state, next_attempt);

    CREATE TABLE audit (
        seq     INTEGER PRIMARY KEY,
        ts      REAL NOT NULL,
        actor   TEXT NOT NULL,
        action  TEXT NOT NULL,
        subject TEXT NOT NULL,
        detail  TEXT NOT NULL,
        prev    TEXT NOT NULL,
        hash    TEXT NOT NULL
    );

    CREATE TABLE dead_letters (
        id       INTEGER PRIMARY KEY AUTOINCREMENT,
        ts       REAL NOT NULL,
        origin   TEXT NOT NULL,
        location TEXT NOT NULL DEFAULT '',
        raw      BLOB NOT NULL,
        error    TEXT NOT NULL
    );

    CREATE TABLE adapter_state (
        adapter TEXT NOT NULL,
        key     TEXT NOT NULL,
        value   TEXT NOT NULL,
        PRIMARY KEY (adapter, key)
    ) WITHOUT ROWID;

    CREATE TABLE adapter_health (
        name       TEXT PRIMARY KEY,
        type       TEXT NOT NULL,
        state      TEXT NOT NULL,
        detail     TEXT NOT NULL DEFAULT '',
        restarts   INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        updated_ts REAL NOT NULL,
        rev        INTEGER NOT NULL
    );
    """,
    # 2: an escalation's latest outbox row and a task's open escalation, found by index
    #    (the inbox joined a full outbox scan per escalation: 0.8 s at 5,000 decisions).
    """
    CREATE INDEX outbox_escalation ON outbox(escalation, id);
    CREATE INDEX escalations_task ON escalations(task, state) WHERE task IS NOT NULL;
    """,
    # 3: the governance tables, which earlier releases created on first use outside this
    #    list. ``IF NOT EXISTS`` because a database those releases wrote may hold them
    #    already (same definitions), with rows that must stay.
    #    * revealable: the originals of masked text; stored events carry only a
    #      placeholder (``[secret:aws-access-key …7QX2]``), a reveal is audited.
    #    * escalation_expiry: which (escalation, deadline) pairs the deadline sweep has
    #      handled, so an expiry raises severity once and a later deadline fires again.
    #    * policy_owner: which rule last acted on an escalation (its ``on_expiry`` applies).
    """
    CREATE TABLE IF NOT EXISTS revealable (
        id          TEXT PRIMARY KEY,
        ts          REAL NOT NULL,
        source      TEXT NOT NULL,
        event_id    TEXT NOT NULL,
        escalation  TEXT,
        agent       TEXT,
        task        TEXT,
        location    TEXT NOT NULL,
        detector    TEXT NOT NULL,
        placeholder TEXT NOT NULL,
        original    TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS revealable_event ON revealable(source, event_id);
    CREATE INDEX IF NOT EXISTS revealable_escalation ON revealable(escalation);

    CREATE TABLE IF NOT EXISTS escalation_expiry (
        escalation TEXT NOT NULL,
        deadline   REAL NOT NULL,
        ts         REAL NOT NULL,
        PRIMARY KEY (escalation, deadline)
    ) WITHOUT ROWID;

    CREATE TABLE IF NOT EXISTS policy_owner (
        escalation TEXT PRIMARY KEY,
        rule       TEXT NOT NULL
    ) WITHOUT ROWID;
    """,
    # 4: pushes to the manager away from the terminal (store/notify.py).
    #    * notify_pushes: one row per (route, subject) ever pushed or waiting to be, so an
    #      escalation reaches a route at most once, also across a collector restart.
    #    * notify_links: the nonces of action links already used (single use).
    """
    CREATE TABLE notify_pushes (
        route        TEXT NOT NULL,
        subject      TEXT NOT NULL,
        reason       TEXT NOT NULL,
        severity     TEXT NOT NULL,
        state        TEXT NOT NULL DEFAULT 'pending',
        attempts     INTEGER NOT NULL DEFAULT 0,
        next_attempt REAL NOT NULL,
        created_ts   REAL NOT NULL,
        sent_ts      REAL,
        last_error   TEXT,
        PRIMARY KEY (route, subject)
    ) WITHOUT ROWID;
    CREATE INDEX notify_pushes_due ON notify_pushes(route, state, next_attempt);

    CREATE TABLE notify_links (
        nonce      TEXT PRIMARY KEY,
        escalation TEXT NOT NULL,
        route      TEXT NOT NULL,
        actor      TEXT NOT NULL,
        used_ts    REAL NOT NULL
    ) WITHOUT ROWID;
    """,
    # 5: beyond one machine (the same tables as PostgreSQL's, store/postgres/schema.py).
    #    * leases: which collector leads an adapter instance (or the policy engine), with
    #      the fencing epoch that append_with_state(lease=...) checks.
    #    * outbox.claimed_by / claimed_until: a delivery claimed by one collector at a time.
    #    * decisions.host: where a decision was made.
    """
    CREATE TABLE leases (
        name       TEXT PRIMARY KEY,
        holder     TEXT NOT NULL,
        epoch      INTEGER NOT NULL,
        expires_ts REAL NOT NULL
    ) WITHOUT ROWID;
    ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
    ALTER TABLE outbox ADD COLUMN claimed_until REAL;
    ALTER TABLE decisions ADD COLUMN host TEXT;
    """,
)

#: The schema version this code writes.
SCHEMA_VERSION = len(MIGRATIONS)


def split_sql(script: str) -> list[str]:
    """Split a migration script into statements (ours never put ';' inside literals)."""
    return [s.strip() for s in script.split(";") if s.strip()]


def pending_statements(version: int) -> list[str]:
    """The statements that bring a database at ``version`` up to :data:`SCHEMA_VERSION`."""
    return [statement for script in MIGRATIONS[version:] for statement in split_sql(script)]
