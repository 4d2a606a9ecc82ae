-- A result is a JSON document of about 3 KB that Postgres compresses on every write. pglz (the
-- default) cost 35-90 us per row more than lz4 on the development machine (20,000 updates of a
-- real result: 1.7-3.2 s against 1.0-1.7 s), a large share of a claim+complete cycle (ADR 0014).
-- Only new values use it; old rows stay readable. A server built without lz4 keeps pglz.
DO $$
BEGIN
    EXECUTE 'ALTER TABLE runs ALTER COLUMN result SET COMPRESSION lz4';
EXCEPTION WHEN feature_not_supported THEN
    NULL;
END
$$;
