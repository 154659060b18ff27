"""What the simulated swarm is made of: roles, models, features and the escalations it raises.

Plain data, no behaviour: edit this file to change what the demo shows. Order matters: the
simulation draws from these tuples with a seeded random generator, so reordering, adding
or removing an entry changes the world a given seed produces (never its determinism).

Texts may use ``{agent}``, ``{f}`` (feature name), ``{file}``, ``{test}``, ``{key}``,
``{wf}`` (workflow) and ``{branch}``; the simulation fills them in when it raises the
escalation.

An escalation that only makes sense for some features names their keys in ``about``
(the OAuth provider question belongs to a workflow that ships OAuth login, not to one
that adds a Redis cache); one with an empty ``about`` fits any work.
"""

from __future__ import annotations

from typing import NamedTuple

ROLES: tuple[str, ...] = ("planner", "coder", "reviewer", "tester")

#: Share of each role in a swarm; coders are the rest.
ROLE_SHARE: dict[str, float] = {"planner": 0.15, "reviewer": 0.15, "tester": 0.25}

#: Role that runs each kind of workflow node (``gate`` has no agent: a human decides).
NODE_ROLE: dict[str, str] = {
    "plan": "planner",
    "code": "coder",
    "review": "reviewer",
    "test": "tester",
    "deploy": "tester",
}

MODELS: dict[str, tuple[str, ...]] = {
    "planner": ("claude-opus-4-1", "gpt-5", "gemini-2.5-pro"),
    "coder": ("claude-sonnet-4-5", "gpt-5-codex", "claude-sonnet-4-5", "qwen3-coder-480b"),
    "reviewer": ("claude-opus-4-1", "gpt-5", "gemini-2.5-pro"),
    "tester": ("claude-haiku-4-5", "gpt-5-mini", "claude-sonnet-4-5"),
}

#: USD per million tokens (in, out), roughly list prices.
PRICES: dict[str, tuple[float, float]] = {
    "claude-opus-4-1": (15.0, 75.0),
    "claude-sonnet-4-5": (3.0, 15.0),
    "claude-haiku-4-5": (1.0, 5.0),
    "gpt-5": (1.25, 10.0),
    "gpt-5-codex": (1.25, 10.0),
    "gpt-5-mini": (0.25, 2.0),
    "gemini-2.5-pro": (1.25, 10.0),
    "qwen3-coder-480b": (0.45, 1.8),
}

#: Price of a model missing from :data:`PRICES`.
DEFAULT_PRICE: tuple[float, float] = (3.0, 15.0)

#: Hosts of a small swarm (bigger swarms run on numbered nodes).
HOSTS: tuple[str, ...] = (
    "build-01",
    "build-02",
    "gpu-a100-1",
    "gpu-a100-2",
    "ci-runner-7",
    "mbp-dana.local",
)


class Feature(NamedTuple):
    """A piece of work a workflow ships: one code task each."""

    name: str
    key: str
    """Short word used in branch names, test filters and greps."""
    file: str
    test: str


FEATURES: tuple[Feature, ...] = (
    Feature("OAuth login", "oauth", "src/auth/oauth.py", "tests/test_oauth.py"),
    Feature("session refresh", "session", "src/auth/session.py", "tests/test_session.py"),
    Feature(
        "rate limiting on /login",
        "ratelimit",
        "src/api/middleware/ratelimit.py",
        "tests/test_ratelimit.py",
    ),
    Feature("CSV export", "export", "src/reports/export.py", "tests/test_export.py"),
    Feature("webhook retries", "webhook", "src/integrations/webhooks.py", "tests/test_webhooks.py"),
    Feature("search pagination", "search", "src/api/routes/search.py", "tests/test_search.py"),
    Feature("UUID primary keys", "uuid", "migrations/0042_uuid_keys.py", "tests/test_models.py"),
    Feature("audit log", "audit", "src/audit/log.py", "tests/test_audit.py"),
    Feature("dark mode", "theme", "web/src/theme.ts", "web/src/theme.test.ts"),
    Feature("invoice PDFs", "invoice", "src/billing/invoice_pdf.py", "tests/test_invoice.py"),
    Feature("password reset e-mail", "reset", "src/auth/reset.py", "tests/test_reset.py"),
    Feature("feature flags", "flags", "src/flags/client.py", "tests/test_flags.py"),
    Feature(
        "payment API retry budget", "stripe", "src/billing/stripe_client.py", "tests/test_stripe.py"
    ),
    Feature("N+1 query in orders list", "orders", "src/orders/queries.py", "tests/test_orders.py"),
    Feature(
        "flaky checkout test",
        "checkout",
        "tests/e2e/checkout.spec.ts",
        "tests/e2e/checkout.spec.ts",
    ),
    Feature("Redis session cache", "cache", "src/cache/redis.py", "tests/test_cache.py"),
    Feature(
        "OpenTelemetry tracing", "tracing", "src/observability/tracing.py", "tests/test_tracing.py"
    ),
    Feature("settings page i18n", "i18n", "web/src/pages/Settings.tsx", "web/src/i18n.test.ts"),
)


class Template(NamedTuple):
    """A kind of workflow: plan -> code fan-out -> review + test -> human gate -> deploy."""

    prefix: str
    min_code: int
    max_code: int
    weight: int
    """How often it is chosen, relative to the others."""
    planned: bool = True
    """Whether a planner plans it first (a hotfix goes straight to a coder)."""


TEMPLATES: tuple[Template, ...] = (
    Template("release", 2, 4, 4),
    Template("feature", 2, 3, 3),
    Template("hotfix", 1, 1, 2, planned=False),
    Template("migration", 1, 2, 1),
)

#: The first workflow of every run: a release, so a new user sees the whole shape.
FIRST_TEMPLATE = Template("release", 2, 4, 0)
#: What arrives when coders are free and no plan can feed them (the planners are busy).
HOTFIX_TEMPLATE = TEMPLATES[2]


# --------------------------------------------------------------------------- escalations


class Approval(NamedTuple):
    title: str
    body: str
    severity: str
    deadline: str | None
    about: tuple[str, ...] = ()
    """Feature keys it belongs to (empty: any work)."""


class Question(NamedTuple):
    title: str
    body: str
    options: tuple[str, ...]
    severity: str
    about: tuple[str, ...] = ()
    """Feature keys it belongs to (empty: any work)."""


class Failure(NamedTuple):
    error: str
    retryable: bool
    severity: str
    about: tuple[str, ...] = ()
    """Feature keys it belongs to (empty: any work)."""


class Guardrail(NamedTuple):
    """What a guardrail catches. The body carries ``{leak}``: a made-up value of the kind
    named by ``leak`` that swarmdeck's own guardrails mask at ingest and keep for an
    audited reveal, exactly as they would a real one."""

    title: str
    body: str
    severity: str
    leak: str
    """``aws-key``, ``emails`` or ``private-key``."""


#: Approvals an agent asks for, by the kind of task it is running.
APPROVALS: dict[str, tuple[Approval, ...]] = {
    "code": (
        Approval(
            "Push to main?",
            "{agent} wants to push {branch} straight to main: CI is green but the "
            "review has not finished.",
            "high",
            "15m",
        ),
        Approval(
            "Run `rm -rf build/`?",
            "The build cache looks stale after a toolchain bump; {agent} wants to delete it "
            "before rebuilding.",
            "low",
            None,
        ),
        Approval(
            "Add dependency pyjwt==2.9.0?",
            "New runtime dependency for {f}. Licence MIT, no known CVEs, 0 transitive deps.",
            "normal",
            None,
            ("oauth", "session", "reset"),
        ),
        Approval(
            "Run migration 0042_uuid_keys on staging?",
            "Rewrites 3 tables (about 1.2M rows); staging is read-only for ~4 minutes.",
            "high",
            "30m",
            ("uuid",),
        ),
        Approval(
            "Add dependency redis==5.2.1?",
            "Client library for {f}; licence MIT, no known CVEs.",
            "normal",
            None,
            ("cache",),
        ),
        Approval(
            "Force-push to {branch}?",
            "{agent} rebased {branch} onto main and needs to force-push.",
            "normal",
            None,
        ),
    ),
    "test": (
        Approval(
            "Re-seed the staging test database?",
            "Fixtures drifted from the schema; {agent} wants to drop and re-seed `staging_test`.",
            "normal",
            None,
        ),
    ),
    "deploy": (
        Approval(
            "Run `terraform apply` on staging?",
            "Plan for {wf}: 3 to add, 1 to change, 0 to destroy (aws_lb_listener.api, "
            "aws_ecs_service.worker).",
            "high",
            "15m",
        ),
        Approval(
            "Restart payments-api in production?",
            "Rolling restart of 6 pods to pick up the new config; p99 latency rises "
            "for ~2 minutes.",
            "critical",
            "5m",
        ),
        Approval(
            "Scale the worker pool from 4 to 12 nodes?",
            "Needed for the {wf} backfill; estimated +$38/day until scaled back.",
            "normal",
            "1h",
        ),
    ),
}

#: Questions an agent asks, by the kind of task it is running. The first planning question
#: is the one every run opens with.
QUESTIONS: dict[str, tuple[Question, ...]] = {
    "plan": (
        Question(
            "Which OAuth provider should the login use?",
            "The issue says 'social login' without naming a provider. Each needs its own "
            "client registration.",
            ("Google", "GitHub", "Okta"),
            "normal",
            ("oauth",),
        ),
        Question(
            "Ship {f} behind a feature flag?",
            "A flag lets us roll back without a deploy but adds a code path to test.",
            ("yes, behind a flag", "no, ship to everyone"),
            "low",
        ),
        Question(
            "Should the session TTL be 1 hour or 24 hours?",
            "Security prefers 1 hour; support tickets suggest users hate re-logging in.",
            ("1 hour", "24 hours"),
            "normal",
            ("session", "cache"),
        ),
        Question(
            "Which eviction policy for the Redis session cache?",
            "allkeys-lru keeps memory bounded; volatile-ttl only evicts keys that expire.",
            ("allkeys-lru", "volatile-ttl"),
            "normal",
            ("cache",),
        ),
        Question(
            "Rate-limit /login per IP or per account?",
            "Per IP blocks shared offices; per account lets one attacker try many accounts.",
            ("per IP", "per account", "both"),
            "normal",
            ("ratelimit",),
        ),
        Question(
            "Backfill the UUID keys online or in a maintenance window?",
            "Online takes ~3 hours with dual writes; a window takes 20 minutes of downtime.",
            ("online", "maintenance window"),
            "normal",
            ("uuid",),
        ),
        Question(
            "CSV only, or XLSX too?",
            "Finance asked for Excel; XLSX adds openpyxl and doubles the export tests.",
            ("CSV only", "CSV and XLSX"),
            "low",
            ("export", "invoice"),
        ),
        Question(
            "How many times should a failed webhook be retried?",
            "Retries back off exponentially; more retries means a longer queue on outages.",
            ("3", "5", "10"),
            "low",
            ("webhook", "stripe"),
        ),
        Question(
            "Sample 10% or 100% of traces in production?",
            "100% costs about $40/day in the tracing backend.",
            ("10%", "100%"),
            "low",
            ("tracing",),
        ),
    ),
    "code": (
        Question(
            "Keep backward compatibility with API v1 clients?",
            "{f} changes a response shape; 4% of traffic still uses /api/v1.",
            ("keep v1 working", "drop v1"),
            "normal",
        ),
        Question(
            "Which Python version should CI target?",
            "The new code uses `except*`; the CI matrix still lists 3.10.",
            ("3.11", "3.12", "3.13"),
            "low",
        ),
        Question(
            "Store timestamps as epoch seconds or ISO-8601 strings?",
            "The existing tables mix both; {agent} wants to pick one for {f}.",
            ("epoch seconds", "ISO-8601"),
            "low",
        ),
        Question(
            "Which OAuth scopes should {f} request?",
            "'openid email' is enough for login; 'profile' adds the avatar and name.",
            ("openid email", "openid email profile"),
            "normal",
            ("oauth",),
        ),
    ),
    "review": (
        Question(
            "The diff also touches src/billing/: review that too?",
            "Out of the declared scope of {wf}; reviewing it adds ~20 minutes.",
            ("yes, review it", "no, out of scope"),
            "low",
        ),
    ),
}

#: How each kind of task fails. Kinds without an entry fail like code tasks.
FAILURES: dict[str, tuple[Failure, ...]] = {
    "plan": (
        Failure("tool call failed: `gh issue view 412`: HTTP 502 from api.github.com", True, "low"),
    ),
    "code": (
        Failure("ModuleNotFoundError: No module named 'jwt'", True, "normal", ("oauth", "reset")),
        Failure("merge conflict in {file} (both modified)", False, "high"),
        Failure("model provider returned 429 Too Many Requests 5 times; gave up", True, "normal"),
        Failure("context window exceeded (212,480 > 200,000 tokens)", False, "high"),
        Failure(
            "redis.exceptions.ConnectionError: localhost:6379 refused", True, "normal", ("cache",)
        ),
    ),
    "review": (Failure("tool call failed: `gh pr diff 1287`: HTTP 502", True, "low"),),
    "test": (
        Failure("pytest {test}: 3 failed, 809 passed", True, "normal"),
        Failure(
            "playwright: timeout 30000ms exceeded waiting for `#checkout-submit`",
            True,
            "normal",
            ("checkout",),
        ),
    ),
    "deploy": (
        Failure(
            "helm upgrade failed: readiness probe failed on 2/6 pods; rolled back",
            True,
            "critical",
        ),
    ),
}

GUARDRAILS: tuple[Guardrail, ...] = (
    Guardrail(
        "Possible secret in output: AWS access key id",
        "{agent} wrote a value matching an AWS access key id to {file}:\n\n"
        "    aws_access_key_id = {leak}\n\nThe output is held until someone looks.",
        "critical",
        "aws-key",
    ),
    Guardrail(
        "Possible personal data in output: customer e-mail addresses",
        "{agent} pasted a customer export sample into a test fixture ({file}):\n\n{leak}",
        "high",
        "emails",
    ),
    Guardrail(
        "Possible private key in output",
        "{agent}'s tool output contains an OpenSSH private key:\n\n{leak}",
        "critical",
        "private-key",
    ),
)

#: Chance that a task of this kind runs into trouble, and the mix of trouble kinds.
TROUBLE: dict[str, tuple[float, tuple[tuple[str, int], ...]]] = {
    "plan": (0.25, (("question", 6), ("failure", 1))),
    "code": (
        0.22,
        (("approval", 4), ("question", 3), ("failure", 4), ("guardrail", 2), ("budget", 1)),
    ),
    "review": (0.08, (("question", 2), ("failure", 1), ("guardrail", 1))),
    "test": (0.1, (("failure", 5), ("approval", 1), ("budget", 1))),
    "deploy": (0.15, (("approval", 5), ("failure", 1))),
}

#: Steps (ticks of its own) each kind of task takes, min and max. Long enough that a
#: dozen busy agents raise a few escalations a minute, not a flood; in proportion to the
#: roles' shares of the swarm, so no role idles for want of work while another queues.
STEPS: dict[str, tuple[int, int]] = {
    "plan": (16, 26),
    "code": (18, 36),
    "review": (12, 22),
    "test": (8, 14),
    "deploy": (4, 8),
}
