-- The queue's hot path (measured with `farm queue-bench`, ADR 0031). Every claim and every result
-- write updates a run row, and since its status changes neither is a HOT update: each writes a new
-- entry into every index of `runs`, and index inserts were a third of Postgres' time per cycle.
--
-- 1. The queue index holds queued runs only: a claimed or finished run no longer adds an entry to
--    it, and the claim's scan no longer walks past the entries of runs that left the queue.
DROP INDEX runs_queue;
CREATE INDEX runs_queued ON runs (enqueued_at, ord) WHERE status = 'queued';
-- 2. Two indexes fewer to maintain. (candidate_id, status, ord) is gone, and the unique
--    (candidate_id, variant_key) and (candidate_id, scenario_id, ord) become one unique
--    (candidate_id, scenario_id, variant_key): a variant key hashes its scenario's content, which
--    names the scenario, so a key belongs to one scenario id and the constraint forbids exactly what
--    it did. Every query of runs by candidate (listing, counts, history by scenario) starts from that
--    index's candidate prefix; they filter or sort that candidate's runs instead of paying an index
--    entry on every write.
DROP INDEX runs_by_candidate_status;
DROP INDEX runs_by_candidate_scenario;
ALTER TABLE runs DROP CONSTRAINT runs_candidate_id_variant_key_key;
ALTER TABLE runs ADD CONSTRAINT runs_candidate_scenario_variant UNIQUE (candidate_id, scenario_id, variant_key);
-- 3. Identifiers compare bytewise: they are ASCII (UUIDs, hex keys, scenario ids), and under the
--    database's default collation (e.g. C.UTF-8) every comparison of an index descent went through the
--    locale. Ids are compared for equality and ordered only to break ties, and ASCII text (every id
--    the farm makes) orders the same under both.
ALTER TABLE candidates ALTER COLUMN id TYPE TEXT COLLATE "C";
ALTER TABLE scenarios ALTER COLUMN content_hash TYPE TEXT COLLATE "C";
ALTER TABLE runs ALTER COLUMN id TYPE TEXT COLLATE "C";
ALTER TABLE runs ALTER COLUMN candidate_id TYPE TEXT COLLATE "C";
ALTER TABLE runs ALTER COLUMN variant_key TYPE TEXT COLLATE "C";
ALTER TABLE runs ALTER COLUMN scenario_id TYPE TEXT COLLATE "C";
ALTER TABLE runs ALTER COLUMN content_hash TYPE TEXT COLLATE "C";
ALTER TABLE traces ALTER COLUMN run_id TYPE TEXT COLLATE "C";
