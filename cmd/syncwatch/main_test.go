package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/syncwatch/syncwatch/clickhouse"
	"github.com/syncwatch/syncwatch/internal/testutil"
)

// testTmp holds the syncwatch binary the tests run as a separate process:
// the embedded engine keeps one data directory per process, so commands
// that open a fresh data directory run in processes of their own.
var testTmp string

// syncwatchBin is that binary, built on first use into testTmp.
var syncwatchBin testutil.BuildOnce

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "syncwatch-cmd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testTmp = dir
	syncwatchBin.Dir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// binary returns the syncwatch binary, built once per test process.
func binary(t testing.TB) string { return syncwatchBin.Path(t) }

// libchdb returns the libchdb the embedded engine runs on; a missing one
// fails the test.
func libchdb(t testing.TB) string { return testutil.Libchdb(t, clickhouse.DefaultLibchdbPath()) }

// cleanEnv is the environment without SYNCWATCH_* variables.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SYNCWATCH_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// runBinary runs syncwatch with args and returns its exit code and output.
func runBinary(t testing.TB, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), out.String(), errOut.String()
		} else if err != nil {
			t.Fatal(err)
		}
		return 0, out.String(), errOut.String()
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		<-done
		t.Fatalf("syncwatch %v did not finish in 2 minutes:\n%s", args, errOut.String())
	}
	return -1, "", ""
}

// env returns a getenv over a fixed map.
func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestRunCommands(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{name: "no command", args: nil, wantCode: 2, wantStderr: "usage: syncwatch <command>"},
		{name: "unknown command", args: []string{"frobnicate"}, wantCode: 2, wantStderr: `syncwatch: unknown command "frobnicate"`},
		{name: "version", args: []string{"version"}, wantCode: 0, wantStdout: "syncwatch dev\n"},
		{name: "--version", args: []string{"--version"}, wantCode: 0, wantStdout: "syncwatch dev\n"},
		{name: "help", args: []string{"help"}, wantCode: 0, wantStdout: "commands:"},
		{name: "serve -h", args: []string{"serve", "-h"}, wantCode: 0, wantStderr: "-listen"},
		{name: "serve with an unknown flag", args: []string{"serve", "--no-such-flag"}, wantCode: 2, wantStderr: "flag provided but not defined: -no-such-flag"},
		{name: "serve with a bad duration", args: []string{"serve", "--batch-max-age", "soon"}, wantCode: 2, wantStderr: `invalid duration "soon"`},
		{name: "serve with a bad log level", args: []string{"serve", "--log-level", "loud"}, wantCode: 2, wantStderr: "--log-level"},
		{name: "serve with a bad log format", args: []string{"serve", "--log-format", "xml"}, wantCode: 2, wantStderr: `--log-format "xml": want json, text or auto`},
		{name: "serve with bad sync types", args: []string{"serve", "--log-format", "json", "--sync-types", "a,a"}, wantCode: 2, wantStderr: `--sync-types: sync type "a": listed twice`},
		{name: "serve with a short token", args: []string{"serve", "--log-format", "json", "--ingest-tokens", "short"}, wantCode: 2, wantStderr: `token "env-ingest-1": must be at least 16 characters`},
		{name: "serve with a bad listen address", args: []string{"serve", "--log-format", "json", "--listen", "8080"}, wantCode: 2, wantStderr: `--listen "8080"`},
		// Rules run before storage is opened: /dev/null/db could never be one.
		{name: "serve with batch-max-size below batch-size", args: []string{"serve", "--data-dir", "/dev/null/db", "--batch-size", "10", "--batch-max-size", "5"}, wantCode: 2, wantStderr: "--batch-max-size 5 is less than batch-size 10"},
		{name: "serve with a zero queue wait", args: []string{"serve", "--data-dir", "/dev/null/db", "--queue-wait", "0s"}, wantCode: 2, wantStderr: "--queue-wait 0s: want a duration above 0"},
		{name: "serve with an unknown sync type in expected intervals", args: []string{"serve", "--data-dir", "/dev/null/db", "--expected-intervals", "bogus=1h"}, wantCode: 2, wantStderr: `unknown sync type "bogus"`},
		{name: "export with zero max sources", args: []string{"export", "--data-dir", "/dev/null/db", "--max-sources", "0"}, wantCode: 2, wantStderr: "--max-sources 0: must be at least 1"},
		{name: "run with too much output kept", args: []string{"run", "--type", "products", "--max-output", "99999999", "--", "true"}, wantCode: 2, wantStderr: "--max-output 99999999: want 0 to"},
		{name: "serve with an argument", args: []string{"serve", "now", "--data-dir", "/dev/null/db"}, wantCode: 2, wantStderr: `unexpected argument "now"`},
		{name: "migrate without an action", args: []string{"migrate"}, wantCode: 2, wantStderr: "migrate: missing action"},
		{name: "migrate with a missing config file", args: []string{"migrate", "--config", "/nonexistent/syncwatch.yaml", "version"}, wantCode: 2, wantStderr: "read config file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, env(nil), &stdout, &stderr)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d\nstdout %s\nstderr %s", code, tc.wantCode, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), tc.wantStdout) {
				t.Fatalf("stdout %q lacks %q", stdout.String(), tc.wantStdout)
			}
			if !strings.Contains(stderr.String(), tc.wantStderr) {
				t.Fatalf("stderr %q lacks %q", stderr.String(), tc.wantStderr)
			}
		})
	}
}
