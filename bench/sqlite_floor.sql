-- The SQLite floor for materializing 100k entities x 10 features: the 1,000,000 rows Feast's
-- SQLite layout needs (one row per entity and feature), generated inside SQLite and inserted
-- in key order in one transaction, with the pragmas Larder's store uses. No Parquet reading, no
-- deduplication, no value encoding: only what SQLite itself must do for the same table (clustered
-- on its key, WITHOUT ROWID, as Larder creates it; WAL mode, where Larder's bulk writes that have
-- the file to themselves take a rollback journal, so this is a reference rather than a floor).
PRAGMA journal_mode=WAL;
PRAGMA synchronous=NORMAL;
PRAGMA cache_size=-65536;
PRAGMA temp_store=MEMORY;
DROP TABLE IF EXISTS floor_driver_hourly_stats;
CREATE TABLE floor_driver_hourly_stats (entity_key BLOB, feature_name TEXT, value BLOB,
  value_text TEXT, vector_value BLOB, event_ts timestamp, created_ts timestamp,
  PRIMARY KEY(entity_key, feature_name)) WITHOUT ROWID;
CREATE INDEX floor_driver_hourly_stats_ek ON floor_driver_hourly_stats (entity_key);
BEGIN;
WITH RECURSIVE e(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM e WHERE i < 99999),
  f(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM f WHERE j < 9)
INSERT INTO floor_driver_hourly_stats
  SELECT CAST('driver_id________' || printf('%020d', i) AS BLOB), 'feature_' || j,
         randomblob(11), printf('%.15f', i / 7.0), NULL,
         '2026-10-31 23:00:00', '2026-10-31 23:00:00'
  FROM e, f ORDER BY 1, 2;
COMMIT;
SELECT count(*) FROM floor_driver_hourly_stats;
