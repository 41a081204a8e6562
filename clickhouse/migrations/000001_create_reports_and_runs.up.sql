-- Every accepted report, kept as the audit trail. A retried delivery of one
-- report (same event_id) collapses on merge and is deduplicated by queries.
CREATE TABLE IF NOT EXISTS reports
(
    event_id       String CODEC(ZSTD(1)),
    run_id         String CODEC(ZSTD(1)),
    source         LowCardinality(String),
    sync_type      LowCardinality(String),
    status         Enum8('pending' = 1, 'processing' = 2, 'success' = 3, 'failed' = 4, 'partial' = 5),
    message        String CODEC(ZSTD(3)),
    fingerprint    UInt64,
    total_count    UInt64 CODEC(T64, ZSTD(1)),
    success_count  UInt64 CODEC(T64, ZSTD(1)),
    failed_count   UInt64 CODEC(T64, ZSTD(1)),
    started_at     DateTime64(3, 'UTC') CODEC(ZSTD(1)),
    completed_at   Nullable(DateTime64(3, 'UTC')) CODEC(ZSTD(1)),
    received_at    DateTime64(3, 'UTC') CODEC(ZSTD(1)),
    -- The start of the run as its first report gave it: identical in every
    -- report of the run, so that the runs table's sorting key never moves.
    run_started_at DateTime64(3, 'UTC') CODEC(ZSTD(1)),
    -- Which report is the run's latest state: status rank, then arrival.
    version        UInt64,
    attributes     Map(LowCardinality(String), String) CODEC(ZSTD(1))
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(received_at)
ORDER BY (run_id, event_id)
TTL toDateTime(received_at) + INTERVAL 90 DAY
SETTINGS ttl_only_drop_parts = 1;

-- The latest state of each run. Its sorting key holds only columns that are
-- the same in every report of a run, so lifecycle updates and repeated
-- deliveries replace each other instead of adding rows.
CREATE TABLE IF NOT EXISTS runs
(
    started_at          DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    run_id              String CODEC(ZSTD(1)),
    version             UInt64,
    event_id            String CODEC(ZSTD(1)),
    source              LowCardinality(String),
    sync_type           LowCardinality(String),
    status              Enum8('pending' = 1, 'processing' = 2, 'success' = 3, 'failed' = 4, 'partial' = 5),
    message             String CODEC(ZSTD(3)),
    fingerprint         UInt64,
    total_count         UInt64 CODEC(T64, ZSTD(1)),
    success_count       UInt64 CODEC(T64, ZSTD(1)),
    failed_count        UInt64 CODEC(T64, ZSTD(1)),
    reported_started_at DateTime64(3, 'UTC') CODEC(ZSTD(1)),
    completed_at        Nullable(DateTime64(3, 'UTC')) CODEC(ZSTD(1)),
    duration_ms         Nullable(Int64) CODEC(T64, ZSTD(1)),
    received_at         DateTime64(3, 'UTC') CODEC(ZSTD(1)),
    attributes          Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    INDEX run_id_bloom run_id TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX message_ngrams lowerUTF8(message) TYPE ngrambf_v1(3, 16384, 3, 0) GRANULARITY 1
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(started_at)
ORDER BY (started_at, run_id)
TTL toDateTime(started_at) + INTERVAL 90 DAY
SETTINGS ttl_only_drop_parts = 1;

CREATE MATERIALIZED VIEW IF NOT EXISTS runs_mv TO runs AS
SELECT
    run_started_at AS started_at,
    run_id,
    version,
    event_id,
    source,
    sync_type,
    status,
    message,
    fingerprint,
    total_count,
    success_count,
    failed_count,
    reports.started_at AS reported_started_at,
    completed_at,
    -- Duration runs from the run's start, which a later report may omit.
    if(completed_at IS NULL, NULL, toInt64(dateDiff('millisecond', run_started_at, assumeNotNull(completed_at)))) AS duration_ms,
    received_at,
    attributes
FROM reports;
