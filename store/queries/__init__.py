"""Named read queries for the services above the store, with typed results.

The store's own methods (:class:`swarmdeck.store.db.Store`) serve every reader;
these are the questions only one service asks (the policy engine, the dry run,
metrics, the Claude Code sessions, an adapter restarting), kept here so that no
SQL is written outside ``swarmdeck.store`` and a second backend has one list of
queries to provide. Each module is named after the subject it answers about:

* :mod:`.tasks`: a task's open escalation, its latest human decision, ids by state;
* :mod:`.usage`: token and cost totals from ``usage`` events;
* :mod:`.metrics`: what outcome velocity and the metrics screen count;
* :mod:`.dryrun`: what the policy dry run compares a rule set with;
* :mod:`.by_origin`: what one adapter instance left open;
* :mod:`.sessions`: naming a Claude Code session's agent, atomically.

Every function takes the :class:`Store` first and returns NamedTuples, plain
values or store models, never raw rows.
"""
