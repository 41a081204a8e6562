DROP VIEW IF EXISTS run_baseline_marks_mv;
DROP TABLE IF EXISTS run_baseline_marks;
DROP TABLE IF EXISTS run_baseline_days;
DROP TABLE IF EXISTS run_baseline_errors;
DROP TABLE IF EXISTS run_baseline_attributes;
DROP TABLE IF EXISTS run_baselines;
