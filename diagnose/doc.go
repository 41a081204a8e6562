// Package diagnose is the read model's diagnostics: anomalies of single
// runs and of runs taken together (durations, record counts, failure
// rates, cadence), forecasts of each type's daily figures, and ranked
// root-cause hints for a failure burst or a regression, each with its
// evidence.
//
// The statistics are computed where the runs are: the package owns the
// Store port, which the clickhouse package implements with SQL (medians
// and MADs with quantileExact, hour-of-week slots, window functions for
// gaps, daily quantiles, attribute counts), and does in Go only what
// works on the few numbers the store returns: binomial tails and Fisher's
// exact test on counts, the regression streaks and failure bursts on the
// flagged runs, and the lines of the forecasts.
//
// A Service is a plain Go API (Anomalies, Forecasts, RootCause,
// DiagnoseRun) for every front end: the HTTP API, the console, the
// exporter and the digests.
package diagnose
