// Package e2e holds the end-to-end tests of syncwatch that need more than
// Go: the web console driven by a headless Chromium over the real server
// on the embedded ClickHouse engine.
package e2e
