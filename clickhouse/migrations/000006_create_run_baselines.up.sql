-- The diagnostics' baselines, one UTC day at a time: what the detectors
-- need of a type's past (counts, a sample of successful durations, a
-- sample of the gaps between starts, attribute values and error
-- fingerprints) summarised from the runs of that day, so that a question
-- over the last 28 or 56 days reads a few rows per type and day instead of
-- every run. They are a cache of a computation the store can always redo
-- from the runs: a day is read from here only when its computation is
-- newer than the latest report that touched the day (run_baseline_marks);
-- otherwise the query computes it from the runs, with the same SELECT.
--
-- Each computation of a day inserts its rows under one computed_at and then
-- records the day in run_baseline_days; readers take the rows of the day's
-- latest recorded computation, so a computation that stopped half way is
-- never read. Rows of older computations stay until their TTL.
CREATE TABLE IF NOT EXISTS run_baselines
(
    day           Date,
    source        LowCardinality(String),
    sync_type     LowCardinality(String),
    computed_at   DateTime64(3, 'UTC'),
    -- Terminal runs, failed runs, successful runs with a duration, and
    -- runs started (any status).
    terminal      UInt64,
    failed        UInt64,
    timed_success UInt64,
    starts        UInt64,
    -- Bit h is set when a run started in hour h (UTC).
    hour_mask     UInt32,
    -- The successful runs with a duration whose cityHash64(run_id) are the
    -- day's smallest (a uniform sample, the same at every computation).
    durations     Array(Tuple(draw UInt64, started_at DateTime64(3, 'UTC'), seconds Float64, records Float64)) CODEC(ZSTD(1)),
    -- Runs with a previous start of the type (within four days), and a
    -- sample of them chosen the same way: the gap to the previous start
    -- and whether the previous run was still running.
    gap_count     UInt64,
    gaps          Array(Tuple(draw UInt64, seconds Float64, overlap UInt8)) CODEC(ZSTD(1)),
    -- The day's latest start and that run's completion.
    last_start    DateTime64(3, 'UTC'),
    last_end      Nullable(DateTime64(3, 'UTC'))
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, source, sync_type, computed_at)
TTL day + INTERVAL 120 DAY
SETTINGS ttl_only_drop_parts = 1;

-- Per type, day and attribute value: the terminal runs that carried it
-- (seen) and those of them that did not fail (good).
CREATE TABLE IF NOT EXISTS run_baseline_attributes
(
    day         Date,
    source      LowCardinality(String),
    sync_type   LowCardinality(String),
    computed_at DateTime64(3, 'UTC'),
    key         LowCardinality(String),
    value       String CODEC(ZSTD(1)),
    good        UInt64,
    seen        UInt64
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, source, sync_type, computed_at, key, value)
TTL day + INTERVAL 120 DAY
SETTINGS ttl_only_drop_parts = 1;

-- Per type, day and error fingerprint: the first and last start of a run
-- that carried it (any status).
CREATE TABLE IF NOT EXISTS run_baseline_errors
(
    day         Date,
    source      LowCardinality(String),
    sync_type   LowCardinality(String),
    computed_at DateTime64(3, 'UTC'),
    fingerprint UInt64,
    first_seen  DateTime64(3, 'UTC'),
    last_seen   DateTime64(3, 'UTC')
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, source, sync_type, computed_at, fingerprint)
TTL day + INTERVAL 120 DAY
SETTINGS ttl_only_drop_parts = 1;

-- The computations of each day: written after their rows.
CREATE TABLE IF NOT EXISTS run_baseline_days
(
    day         Date,
    computed_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(computed_at)
PARTITION BY toYYYYMM(day)
ORDER BY day
TTL day + INTERVAL 120 DAY;

-- When a report last touched each past day: a computation of the day from
-- before that is stale. Reports of today are not marked (today is never
-- summarised); the store marks the days it deletes runs from itself.
CREATE TABLE IF NOT EXISTS run_baseline_marks
(
    day       Date,
    marked_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(marked_at)
PARTITION BY toYYYYMM(day)
ORDER BY day
TTL day + INTERVAL 120 DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS run_baseline_marks_mv TO run_baseline_marks AS
SELECT toDate(run_started_at) AS day, max(now64(3, 'UTC')) AS marked_at
FROM reports
WHERE toDate(run_started_at) < toDate(now64(3, 'UTC'))
GROUP BY day;
