-- The latest activity of every source and sync type, for the exporter's
-- last-run and last-success metrics over the whole retention: a handful of
-- rows per source, sync type and day, however many runs there are. Maxima
-- and minima are idempotent, so repeated deliveries and lifecycle updates
-- of a run never distort it.
CREATE TABLE IF NOT EXISTS run_activity
(
    day                  Date,
    source               LowCardinality(String),
    sync_type            LowCardinality(String),
    -- The earliest and latest run start of the day.
    first_run_started_at SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    last_run_started_at  SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
    -- When the day's latest successful run completed; 1970 when none did.
    last_success_at      SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (source, sync_type, day);

CREATE MATERIALIZED VIEW IF NOT EXISTS run_activity_mv TO run_activity AS
SELECT
    toDate(run_started_at) AS day,
    source,
    sync_type,
    min(run_started_at) AS first_run_started_at,
    max(run_started_at) AS last_run_started_at,
    maxIf(assumeNotNull(completed_at), status = 'success' AND completed_at IS NOT NULL) AS last_success_at
FROM reports
GROUP BY day, source, sync_type;

-- Reports stored before this migration.
INSERT INTO run_activity
SELECT
    toDate(run_started_at) AS day,
    source,
    sync_type,
    min(run_started_at) AS first_run_started_at,
    max(run_started_at) AS last_run_started_at,
    maxIf(assumeNotNull(completed_at), status = 'success' AND completed_at IS NOT NULL) AS last_success_at
FROM reports
GROUP BY day, source, sync_type;
