-- The ledger of digest deliveries: one row per event of the delivery of
-- one digest, for one period, to one channel. A replica that means to send
-- a delivery first inserts a claim with an insert_deduplication_token made
-- of (digest, channel, period, generation): ClickHouse keeps the first
-- insert of a token and drops the others whole, atomically (the part
-- commit on one server, the Keeper node of the block on a replicated
-- table), so reading the claim back names the one replica that sends.
-- Attempts record failures and extend the claimant's lease; a claim whose
-- lease ran out without a sent row is taken over at the next generation.
-- Rows are never updated: a plain MergeTree that remembers its latest
-- blocks' tokens.
CREATE TABLE IF NOT EXISTS digest_deliveries
(
    digest       LowCardinality(String),
    channel      LowCardinality(String),
    period_start DateTime64(3, 'UTC'),
    period_end   DateTime64(3, 'UTC'),
    -- The claim's generation: 1 for the first claim, one more for each
    -- takeover of a claim whose claimant went away.
    generation   UInt32,
    -- skipped: the period had nothing to say and the digest does not
    -- send empty ones.
    kind         Enum8('claim' = 1, 'attempt' = 2, 'sent' = 3, 'gave_up' = 4, 'skipped' = 5),
    instance     String,
    at           DateTime64(3, 'UTC') CODEC(Delta, ZSTD),
    -- Until when the claimant holds the delivery: no other replica takes
    -- it over before.
    lease_until  DateTime64(3, 'UTC'),
    attempt      UInt32,
    late         Bool,
    error        String CODEC(ZSTD(3))
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(period_start)
ORDER BY (digest, channel, period_start, generation, kind, at)
TTL toDateTime(at) + INTERVAL 400 DAY
SETTINGS non_replicated_deduplication_window = 10000;
