-- A candidate's gate verdict is stored once, when its last run finishes: the verdict CI read is the
-- evidence, and "the last candidate whose gate passed" (the default baseline) is one indexed query.
ALTER TABLE candidates ADD COLUMN gate TEXT;
ALTER TABLE candidates ADD COLUMN gate_passed BOOLEAN;
ALTER TABLE candidates ADD COLUMN finished_at BIGINT;
CREATE INDEX candidates_passed ON candidates (gate_passed, created_at);

-- Tokens can be listed (by a short public id: the first 16 hex digits of the hash) and revoked.
ALTER TABLE tokens ADD COLUMN revoked_at BIGINT;
