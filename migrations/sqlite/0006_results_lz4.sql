-- Postgres compresses results with lz4 from here on (migrations/postgres/0006); SQLite stores text
-- as it is. Kept so that both dialects count the same migrations.
SELECT 1;
