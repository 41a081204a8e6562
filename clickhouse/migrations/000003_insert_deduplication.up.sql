-- Retried inserts are idempotent: every insert carries an
-- insert_deduplication_token made of its rows, and these tables remember
-- the tokens of their latest blocks, so that an insert repeated after a
-- failure (or after a crash before the spool forgot it) adds nothing where
-- it already landed and still reaches the views where it did not.
ALTER TABLE reports MODIFY SETTING non_replicated_deduplication_window = 1000;
ALTER TABLE runs MODIFY SETTING non_replicated_deduplication_window = 1000;
ALTER TABLE run_activity MODIFY SETTING non_replicated_deduplication_window = 1000;
