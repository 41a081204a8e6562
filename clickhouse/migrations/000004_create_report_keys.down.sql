DROP VIEW IF EXISTS report_keys_mv;
DROP TABLE IF EXISTS report_keys;
