DROP VIEW IF EXISTS run_activity_mv;
DROP TABLE IF EXISTS run_activity;
