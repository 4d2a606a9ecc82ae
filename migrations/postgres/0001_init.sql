-- Scenario Farm results database (Postgres dialect). Times are milliseconds since the Unix epoch.

-- Every version of every scenario, by content hash: runs point at the exact text they ran.
CREATE TABLE scenarios (
    content_hash TEXT PRIMARY KEY,
    scenario_id  TEXT NOT NULL,
    file         TEXT NOT NULL,
    body         TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX scenarios_by_id ON scenarios (scenario_id);

-- A release candidate: a stack configuration and the suite it is run against.
CREATE TABLE candidates (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    git_sha         TEXT,
    config_hash     TEXT NOT NULL,
    stack_config    TEXT NOT NULL,
    suite           TEXT NOT NULL,
    baseline        TEXT,
    idempotency_key TEXT UNIQUE,
    expanded        BOOLEAN NOT NULL DEFAULT FALSE,
    runs_total      BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    UNIQUE (name, config_hash)
);

-- The runs table is the queue and holds the results.
CREATE TABLE runs (
    id               TEXT PRIMARY KEY,
    candidate_id     TEXT NOT NULL REFERENCES candidates (id),
    variant_key      TEXT NOT NULL,
    scenario_id      TEXT NOT NULL,
    content_hash     TEXT NOT NULL REFERENCES scenarios (content_hash),
    ord              BIGINT NOT NULL,
    tags             TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'queued',
    attempt          INTEGER NOT NULL DEFAULT 0,
    lease_owner      TEXT,
    lease_expires_at BIGINT,
    enqueued_at      BIGINT NOT NULL,
    finished_at      BIGINT,
    digest           TEXT,
    reason           TEXT,
    result           TEXT,
    UNIQUE (candidate_id, variant_key)
);
CREATE INDEX runs_queue ON runs (status, enqueued_at, ord);
CREATE INDEX runs_by_candidate_status ON runs (candidate_id, status, ord);
CREATE INDEX runs_by_candidate_scenario ON runs (candidate_id, scenario_id, ord);
CREATE INDEX runs_expired_leases ON runs (lease_expires_at) WHERE status = 'running';

-- Traces of failing runs (passes are re-simulated on demand).
CREATE TABLE traces (
    run_id TEXT PRIMARY KEY REFERENCES runs (id),
    body   BYTEA NOT NULL
);

-- API tokens, stored hashed.
CREATE TABLE tokens (
    hash       TEXT PRIMARY KEY,
    role       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Workers that have claimed runs.
CREATE TABLE workers (
    id           TEXT PRIMARY KEY,
    version      TEXT NOT NULL,
    started_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);

-- Every write through the API.
CREATE TABLE audit_log (
    id      BIGSERIAL PRIMARY KEY,
    at      BIGINT NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail  TEXT NOT NULL
);
