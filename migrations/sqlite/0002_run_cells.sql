-- Each run's ODD coverage cell (JSON object dimension -> bin), fixed at enqueue time.
ALTER TABLE runs ADD COLUMN cell TEXT NOT NULL DEFAULT '{}';
