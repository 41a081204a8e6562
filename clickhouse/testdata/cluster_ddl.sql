-- 000001_create_reports_and_runs.up.sql
CREATE TABLE IF NOT EXISTS reports_local ON CLUSTER syncwatch
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
    run_started_at DateTime64(3, 'UTC') CODEC(ZSTD(1)),
    version        UInt64,
    attributes     Map(LowCardinality(String), String) CODEC(ZSTD(1))
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', version)
PARTITION BY toYYYYMM(received_at)
ORDER BY (run_id, event_id)
TTL toDateTime(received_at) + INTERVAL 90 DAY
SETTINGS ttl_only_drop_parts = 1;

CREATE TABLE IF NOT EXISTS reports ON CLUSTER syncwatch
(
    event_id       String,
    run_id         String,
    source         LowCardinality(String),
    sync_type      LowCardinality(String),
    status         Enum8('pending' = 1, 'processing' = 2, 'success' = 3, 'failed' = 4, 'partial' = 5),
    message        String,
    fingerprint    UInt64,
    total_count    UInt64,
    success_count  UInt64,
    failed_count   UInt64,
    started_at     DateTime64(3, 'UTC'),
    completed_at   Nullable(DateTime64(3, 'UTC')),
    received_at    DateTime64(3, 'UTC'),
    run_started_at DateTime64(3, 'UTC'),
    version        UInt64,
    attributes     Map(LowCardinality(String), String)
)
ENGINE = Distributed('syncwatch', currentDatabase(), 'reports_local', cityHash64(run_id));

CREATE TABLE IF NOT EXISTS runs_local ON CLUSTER syncwatch
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
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', version)
PARTITION BY toYYYYMM(started_at)
ORDER BY (started_at, run_id)
TTL toDateTime(started_at) + INTERVAL 90 DAY
SETTINGS ttl_only_drop_parts = 1;

CREATE TABLE IF NOT EXISTS runs ON CLUSTER syncwatch
(
    started_at          DateTime64(3, 'UTC'),
    run_id              String,
    version             UInt64,
    event_id            String,
    source              LowCardinality(String),
    sync_type           LowCardinality(String),
    status              Enum8('pending' = 1, 'processing' = 2, 'success' = 3, 'failed' = 4, 'partial' = 5),
    message             String,
    fingerprint         UInt64,
    total_count         UInt64,
    success_count       UInt64,
    failed_count        UInt64,
    reported_started_at DateTime64(3, 'UTC'),
    completed_at        Nullable(DateTime64(3, 'UTC')),
    duration_ms         Nullable(Int64),
    received_at         DateTime64(3, 'UTC'),
    attributes          Map(LowCardinality(String), String)
)
ENGINE = Distributed('syncwatch', currentDatabase(), 'runs_local', cityHash64(run_id));

CREATE MATERIALIZED VIEW IF NOT EXISTS runs_mv ON CLUSTER syncwatch TO runs_local AS
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
    if(completed_at IS NULL, NULL, toInt64(dateDiff('millisecond', run_started_at, assumeNotNull(completed_at)))) AS duration_ms,
    received_at,
    attributes
FROM reports_local AS reports;

-- 000002_create_run_activity.up.sql
CREATE TABLE IF NOT EXISTS run_activity_local ON CLUSTER syncwatch
(
    day                  Date,
    source               LowCardinality(String),
    sync_type            LowCardinality(String),
    first_run_started_at SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    last_run_started_at  SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
    last_success_at      SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
)
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYYYYMM(day)
ORDER BY (source, sync_type, day);

CREATE TABLE IF NOT EXISTS run_activity ON CLUSTER syncwatch
(
    day                  Date,
    source               LowCardinality(String),
    sync_type            LowCardinality(String),
    first_run_started_at SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    last_run_started_at  SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
    last_success_at      SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
)
ENGINE = Distributed('syncwatch', currentDatabase(), 'run_activity_local', rand());

CREATE MATERIALIZED VIEW IF NOT EXISTS run_activity_mv ON CLUSTER syncwatch TO run_activity_local AS
SELECT
    toDate(run_started_at) AS day,
    source,
    sync_type,
    min(run_started_at) AS first_run_started_at,
    max(run_started_at) AS last_run_started_at,
    maxIf(assumeNotNull(completed_at), status = 'success' AND completed_at IS NOT NULL) AS last_success_at
FROM reports_local AS reports
GROUP BY day, source, sync_type;

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

-- 000003_insert_deduplication.up.sql
ALTER TABLE reports_local ON CLUSTER syncwatch MODIFY SETTING non_replicated_deduplication_window = 1000;

ALTER TABLE runs_local ON CLUSTER syncwatch MODIFY SETTING non_replicated_deduplication_window = 1000;

ALTER TABLE run_activity_local ON CLUSTER syncwatch MODIFY SETTING non_replicated_deduplication_window = 1000;

-- 000004_create_report_keys.up.sql
CREATE TABLE IF NOT EXISTS report_keys_local ON CLUSTER syncwatch
(
    run_id         String CODEC(ZSTD(1)),
    event_id       String CODEC(ZSTD(1)),
    run_started_at DateTime64(3, 'UTC') CODEC(ZSTD(1)),
    source         LowCardinality(String),
    received_at    DateTime64(3, 'UTC') CODEC(ZSTD(1))
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYYYYMM(received_at)
ORDER BY (run_id, event_id, run_started_at)
TTL toDateTime(received_at) + INTERVAL 90 DAY
SETTINGS index_granularity = 256, ttl_only_drop_parts = 1, non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS report_keys ON CLUSTER syncwatch
(
    run_id         String,
    event_id       String,
    run_started_at DateTime64(3, 'UTC'),
    source         LowCardinality(String),
    received_at    DateTime64(3, 'UTC')
)
ENGINE = Distributed('syncwatch', currentDatabase(), 'report_keys_local', cityHash64(run_id));

CREATE MATERIALIZED VIEW IF NOT EXISTS report_keys_mv ON CLUSTER syncwatch TO report_keys_local AS
SELECT run_id, event_id, run_started_at, source, received_at
FROM reports_local AS reports;

INSERT INTO report_keys
SELECT run_id, event_id, run_started_at, source, received_at
FROM reports;

-- 000005_create_digest_deliveries.up.sql
CREATE TABLE IF NOT EXISTS digest_deliveries_local ON CLUSTER syncwatch
(
    digest       LowCardinality(String),
    channel      LowCardinality(String),
    period_start DateTime64(3, 'UTC'),
    period_end   DateTime64(3, 'UTC'),
    generation   UInt32,
    kind         Enum8('claim' = 1, 'attempt' = 2, 'sent' = 3, 'gave_up' = 4, 'skipped' = 5),
    instance     String,
    at           DateTime64(3, 'UTC') CODEC(Delta, ZSTD),
    lease_until  DateTime64(3, 'UTC'),
    attempt      UInt32,
    late         Bool,
    error        String CODEC(ZSTD(3))
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYYYYMM(period_start)
ORDER BY (digest, channel, period_start, generation, kind, at)
TTL toDateTime(at) + INTERVAL 400 DAY
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS digest_deliveries ON CLUSTER syncwatch
(
    digest       LowCardinality(String),
    channel      LowCardinality(String),
    period_start DateTime64(3, 'UTC'),
    period_end   DateTime64(3, 'UTC'),
    generation   UInt32,
    kind         Enum8('claim' = 1, 'attempt' = 2, 'sent' = 3, 'gave_up' = 4, 'skipped' = 5),
    instance     String,
    at           DateTime64(3, 'UTC'),
    lease_until  DateTime64(3, 'UTC'),
    attempt      UInt32,
    late         Bool,
    error        String
)
ENGINE = Distributed('syncwatch', currentDatabase(), 'digest_deliveries_local', cityHash64(digest, channel));

-- 000006_create_run_baselines.up.sql
CREATE TABLE IF NOT EXISTS run_baselines_local ON CLUSTER syncwatch
(
    day           Date,
    source        LowCardinality(String),
    sync_type     LowCardinality(String),
    computed_at   DateTime64(3, 'UTC'),
    terminal      UInt64,
    failed        UInt64,
    timed_success UInt64,
    starts        UInt64,
    hour_mask     UInt32,
    durations     Array(Tuple(draw UInt64, started_at DateTime64(3, 'UTC'), seconds Float64, records Float64)) CODEC(ZSTD(1)),
    gap_count     UInt64,
    gaps          Array(Tuple(draw UInt64, seconds Float64, overlap UInt8)) CODEC(ZSTD(1)),
    last_start    DateTime64(3, 'UTC'),
    last_end      Nullable(DateTime64(3, 'UTC'))
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYYYYMM(day)
ORDER BY (day, source, sync_type, computed_at)
TTL day + INTERVAL 120 DAY
SETTINGS ttl_only_drop_parts = 1;

CREATE TABLE IF NOT EXISTS run_baselines ON CLUSTER syncwatch
(
    day           Date,
    source        LowCardinality(String),
    sync_type     LowCardinality(String),
    computed_at   DateTime64(3, 'UTC'),
    terminal      UInt64,
    failed        UInt64,
    timed_success UInt64,
    starts        UInt64,
    hour_mask     UInt32,
    durations     Array(Tuple(draw UInt64, started_at DateTime64(3, 'UTC'), seconds Float64, records Float64)),
    gap_count     UInt64,
    gaps          Array(Tuple(draw UInt64, seconds Float64, overlap UInt8)),
    last_start    DateTime64(3, 'UTC'),
    last_end      Nullable(DateTime64(3, 'UTC'))
)
ENGINE = Distributed('syncwatch', currentDatabase(), 'run_baselines_local', rand());

CREATE TABLE IF NOT EXISTS run_baseline_attributes_local ON CLUSTER syncwatch
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
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYYYYMM(day)
ORDER BY (day, source, sync_type, computed_at, key, value)
TTL day + INTERVAL 120 DAY
SETTINGS ttl_only_drop_parts = 1;

CREATE TABLE IF NOT EXISTS run_baseline_attributes ON CLUSTER syncwatch
(
    day         Date,
    source      LowCardinality(String),
    sync_type   LowCardinality(String),
    computed_at DateTime64(3, 'UTC'),
    key         LowCardinality(String),
    value       String,
    good        UInt64,
    seen        UInt64
)
ENGINE = Distributed('syncwatch', currentDatabase(), 'run_baseline_attributes_local', rand());

CREATE TABLE IF NOT EXISTS run_baseline_errors_local ON CLUSTER syncwatch
(
    day         Date,
    source      LowCardinality(String),
    sync_type   LowCardinality(String),
    computed_at DateTime64(3, 'UTC'),
    fingerprint UInt64,
    first_seen  DateTime64(3, 'UTC'),
    last_seen   DateTime64(3, 'UTC')
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYYYYMM(day)
ORDER BY (day, source, sync_type, computed_at, fingerprint)
TTL day + INTERVAL 120 DAY
SETTINGS ttl_only_drop_parts = 1;

CREATE TABLE IF NOT EXISTS run_baseline_errors ON CLUSTER syncwatch
(
    day         Date,
    source      LowCardinality(String),
    sync_type   LowCardinality(String),
    computed_at DateTime64(3, 'UTC'),
    fingerprint UInt64,
    first_seen  DateTime64(3, 'UTC'),
    last_seen   DateTime64(3, 'UTC')
)
ENGINE = Distributed('syncwatch', currentDatabase(), 'run_baseline_errors_local', rand());

CREATE TABLE IF NOT EXISTS run_baseline_days_local ON CLUSTER syncwatch
(
    day         Date,
    computed_at DateTime64(3, 'UTC')
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', computed_at)
PARTITION BY toYYYYMM(day)
ORDER BY day
TTL day + INTERVAL 120 DAY;

CREATE TABLE IF NOT EXISTS run_baseline_days ON CLUSTER syncwatch
(
    day         Date,
    computed_at DateTime64(3, 'UTC')
)
ENGINE = Distributed('syncwatch', currentDatabase(), 'run_baseline_days_local', rand());

CREATE TABLE IF NOT EXISTS run_baseline_marks_local ON CLUSTER syncwatch
(
    day       Date,
    marked_at DateTime64(3, 'UTC')
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', marked_at)
PARTITION BY toYYYYMM(day)
ORDER BY day
TTL day + INTERVAL 120 DAY;

CREATE TABLE IF NOT EXISTS run_baseline_marks ON CLUSTER syncwatch
(
    day       Date,
    marked_at DateTime64(3, 'UTC')
)
ENGINE = Distributed('syncwatch', currentDatabase(), 'run_baseline_marks_local', rand());

CREATE MATERIALIZED VIEW IF NOT EXISTS run_baseline_marks_mv ON CLUSTER syncwatch TO run_baseline_marks_local AS
SELECT toDate(run_started_at) AS day, max(now64(3, 'UTC')) AS marked_at
FROM reports_local AS reports
WHERE toDate(run_started_at) < toDate(now64(3, 'UTC'))
GROUP BY day;

