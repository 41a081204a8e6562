// Package e2e holds the end-to-end tests of syncwatch: the HTTP service as
// internal/app assembles it over the embedded ClickHouse engine (ingest to
// storage, the query and monitor API against its contract, the console's
// pages), `syncwatch serve` processes killed and restarted, and the web
// console driven by a headless Chromium.
package e2e
