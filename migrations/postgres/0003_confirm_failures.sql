-- A failing run is re-run once (preferably by another worker) before it counts; the first digest
-- is kept to detect nondeterminism, which is a farm bug, never a stack verdict.
ALTER TABLE runs ADD COLUMN first_digest TEXT;
ALTER TABLE runs ADD COLUMN avoid_worker TEXT;
ALTER TABLE runs ADD COLUMN nondeterministic BOOLEAN NOT NULL DEFAULT FALSE;
