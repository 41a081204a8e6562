-- The keys of every stored report, for the point look-ups that make
-- collector replicas interchangeable: before a batch is inserted, the
-- store reads here the events of its runs already stored (a retry that
-- reached another replica is not stored again), each run's anchor (the
-- start that keys it in runs) and its source. The reports table holds the
-- same keys, but in granules of 8192 rows: a look-up of a few thousand
-- random run ids would read most of it, here a few thousand granules of
-- 256 rows. One row per report and anchor: a run stored under two anchors
-- (two replicas that both took a new run before either inserted it) shows
-- both, and the store moves it to the earlier one.
CREATE TABLE IF NOT EXISTS report_keys
(
    run_id         String CODEC(ZSTD(1)),
    event_id       String CODEC(ZSTD(1)),
    run_started_at DateTime64(3, 'UTC') CODEC(ZSTD(1)),
    source         LowCardinality(String),
    received_at    DateTime64(3, 'UTC') CODEC(ZSTD(1))
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(received_at)
ORDER BY (run_id, event_id, run_started_at)
TTL toDateTime(received_at) + INTERVAL 90 DAY
SETTINGS index_granularity = 256, ttl_only_drop_parts = 1, non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS report_keys_mv TO report_keys AS
SELECT run_id, event_id, run_started_at, source, received_at
FROM reports;

-- Reports stored before this migration.
INSERT INTO report_keys
SELECT run_id, event_id, run_started_at, source, received_at
FROM reports;
