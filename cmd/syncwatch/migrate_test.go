package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// latestMigration returns the highest migration version in the repository.
func latestMigration(t *testing.T) int {
	t.Helper()
	names, err := filepath.Glob("../../clickhouse/migrations/*.up.sql")
	if err != nil || len(names) == 0 {
		t.Fatalf("no migrations found: %v", err)
	}
	sort.Strings(names)
	n, err := strconv.Atoi(strings.SplitN(filepath.Base(names[len(names)-1]), "_", 2)[0])
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestMigrateCommand runs `syncwatch migrate` on a fresh data directory:
// nothing applied, then every migration, then none again.
func TestMigrateCommand(t *testing.T) {
	dir := t.TempDir()
	latest := latestMigration(t)
	env := cleanEnv("SYNCWATCH_LIBCHDB=" + libchdb(t))
	steps := []struct {
		args     []string
		wantCode int
		want     string
	}{
		{[]string{"version"}, 0, "version 0\n"},
		{[]string{"up"}, 0, fmt.Sprintf("version %d\n", latest)},
		{[]string{"version"}, 0, fmt.Sprintf("version %d\n", latest)},
		// Up again is a no-op.
		{[]string{"up"}, 0, fmt.Sprintf("version %d\n", latest)},
		{[]string{"down", "--yes"}, 0, "version 0\n"},
		{[]string{"version"}, 0, "version 0\n"},
		{[]string{"up"}, 0, fmt.Sprintf("version %d\n", latest)},
		{[]string{"force", "1"}, 0, "version 1\n"},
		{[]string{"force", "x"}, 2, ""},
		{[]string{"force"}, 2, ""},
		{[]string{"sideways"}, 2, ""},
	}
	for _, st := range steps {
		code, stdout, stderr := runBinary(t, env, append([]string{"migrate", "--data-dir", dir, "--log-format", "json"}, st.args...)...)
		if code != st.wantCode || stdout != st.want {
			t.Fatalf("migrate %v: exit %d, stdout %q; want %d, %q\nstderr: %s", st.args, code, stdout, st.wantCode, st.want, stderr)
		}
	}
	// The data directory can also come from the environment.
	code, stdout, stderr := runBinary(t, append(env, "SYNCWATCH_DATA_DIR="+dir), "migrate", "version")
	if code != 0 || stdout != "version 1\n" {
		t.Fatalf("migrate version with SYNCWATCH_DATA_DIR: %d %q %s", code, stdout, stderr)
	}
}

// TestMigrateWhileServing runs migrate on the data directory of a running
// server: it fails and says why.
func TestMigrateWhileServing(t *testing.T) {
	dir := t.TempDir()
	lib := libchdb(t)
	startBinaryServe(t, dir, lib, "127.0.0.1:0")
	code, stdout, stderr := runBinary(t, cleanEnv(), "migrate", "--data-dir", dir, "--libchdb", lib, "version")
	if code != 1 || stdout != "" || !strings.Contains(stderr, "another process (a running `syncwatch serve`?) holds its lock") {
		t.Fatalf("migrate beside serve: exit %d, stdout %q, stderr %s", code, stdout, stderr)
	}
}

// servingLine is the log line serve writes once it listens.
var servingLine = regexp.MustCompile(`"msg":"syncwatch is serving"`)

// startBinaryServe starts `syncwatch serve` and returns its log lines up to
// the one that says it serves; the process is killed at cleanup.
func startBinaryServe(t *testing.T, dataDir, lib, listen string, extraEnv ...string) []string {
	t.Helper()
	cmd := exec.Command(binary(t), "serve", "--data-dir", dataDir, "--libchdb", lib, "--listen", listen, "--log-format", "json")
	cmd.Env = cleanEnv(extraEnv...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var got []string
	timeout := time.After(90 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("serve exited before serving:\n%s", strings.Join(got, "\n"))
			}
			got = append(got, l)
			if servingLine.MatchString(l) {
				go func() {
					for range lines {
					}
				}()
				return got
			}
		case <-timeout:
			t.Fatalf("serve did not start in 90s:\n%s", strings.Join(got, "\n"))
		}
	}
}

// TestServeListensOnLoopbackWithoutTokens asks for every interface without
// tokens: serve warns and listens on loopback only. With a token it
// listens where it is told.
func TestServeListensOnLoopbackWithoutTokens(t *testing.T) {
	lib := libchdb(t)
	lines := startBinaryServe(t, t.TempDir(), lib, "0.0.0.0:0")
	logs := strings.Join(lines, "\n")
	if !strings.Contains(logs, `"level":"warning"`) || !strings.Contains(logs, "no tokens configured") ||
		!regexp.MustCompile(`"listen":"127\.0\.0\.1:\d+","msg":"syncwatch is serving"`).MatchString(logs) {
		t.Fatalf("without tokens serve must warn and listen on 127.0.0.1:\n%s", logs)
	}

	lines = startBinaryServe(t, t.TempDir(), lib, "0.0.0.0:0", "SYNCWATCH_INGEST_TOKENS=an-ingest-token-0000001")
	logs = strings.Join(lines, "\n")
	if strings.Contains(logs, "no tokens configured") || !regexp.MustCompile(`"auth":true.*"listen":"(\[::\]|0\.0\.0\.0):\d+"`).MatchString(logs) {
		t.Fatalf("with tokens serve must listen where it is told:\n%s", logs)
	}
}

// TestMigrateFlagsAfterAction checks that flags placed after the action are
// honoured, never silently ignored (issue 14, operator item 1): the action
// acts on the data directory the command line names, and nothing appears in
// the working directory. A destructive down names the database and wants
// --yes when standard input is not a terminal.
func TestMigrateFlagsAfterAction(t *testing.T) {
	dir := t.TempDir()
	cwd := t.TempDir()
	latest := latestMigration(t)
	env := cleanEnv("SYNCWATCH_LIBCHDB=" + libchdb(t))
	run := func(extraEnv []string, args ...string) (int, string, string) {
		t.Helper()
		cmd := exec.Command(binary(t), args...)
		cmd.Env, cmd.Dir = append(env[:len(env):len(env)], extraEnv...), cwd
		var out, errOut strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), out.String(), errOut.String()
		} else if err != nil {
			t.Fatal(err)
		}
		return 0, out.String(), errOut.String()
	}
	// The environment names another database: the command line wins.
	other := []string{"SYNCWATCH_DATA_DIR=" + t.TempDir()}
	steps := []struct {
		name       string
		env        []string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"up with flags after the action", nil, []string{"migrate", "up", "--data-dir", dir, "--log-format", "json"}, 0, fmt.Sprintf("version %d\n", latest), ""},
		{"version with flags after the action", nil, []string{"migrate", "version", "--data-dir=" + dir}, 0, fmt.Sprintf("version %d\n", latest), ""},
		{"flags on both sides", nil, []string{"migrate", "--log-format", "json", "version", "--data-dir", dir}, 0, fmt.Sprintf("version %d\n", latest), ""},
		{"flag after the action beats the environment", other, []string{"migrate", "version", "--data-dir", dir}, 0, fmt.Sprintf("version %d\n", latest), ""},
		{"down without --yes off a terminal", nil, []string{"migrate", "down", "--data-dir", dir}, 2, "", "--yes"},
		{"down names the database", nil, []string{"migrate", "down", "--data-dir", dir}, 2, "", dir},
		{"still applied after a refused down", nil, []string{"migrate", "version", "--data-dir", dir}, 0, fmt.Sprintf("version %d\n", latest), ""},
		{"down with --yes", nil, []string{"migrate", "down", "--data-dir", dir, "--yes"}, 0, "version 0\n", dir},
		{"unknown flag after the action", nil, []string{"migrate", "version", "--data-dri", dir}, 2, "", "data-dri"},
		{"extra argument", nil, []string{"migrate", "version", "now", "--data-dir", dir}, 2, "", "now"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			code, stdout, stderr := run(st.env, st.args...)
			if code != st.wantCode || stdout != st.wantStdout || !strings.Contains(stderr, st.wantStderr) {
				t.Fatalf("syncwatch %v: exit %d, stdout %q, stderr %q; want exit %d, stdout %q, stderr containing %q",
					st.args, code, stdout, stderr, st.wantCode, st.wantStdout, st.wantStderr)
			}
		})
	}
	if entries, err := os.ReadDir(cwd); err != nil || len(entries) != 0 {
		t.Fatalf("migrate wrote into its working directory: %v %v", entries, err)
	}
	// A mistaken action touches nothing: the database is not even opened.
	untouched := filepath.Join(t.TempDir(), "db")
	for _, args := range [][]string{{"sideways"}, {"force", "x"}, {"force"}, {"up", "now"}} {
		code, _, stderr := run(nil, append(append([]string{"migrate"}, args...), "--data-dir", untouched)...)
		if _, err := os.Stat(untouched); code != 2 || err == nil {
			t.Fatalf("migrate %v: exit %d (%s), data directory created: %v", args, code, stderr, err == nil)
		}
	}
}

// TestFlagsAfterArguments checks every subcommand that takes no arguments
// refuses one, with exit 2 and a message, instead of ignoring the flags
// after it.
func TestFlagsAfterArguments(t *testing.T) {
	for cmd, flags := range map[string][]string{
		"serve": {"--data-dir", t.TempDir()}, "export": {"--data-dir", t.TempDir()},
		"send": {"--type", "products"}, "demo": {"--seed", "1"}, "healthcheck": {"--timeout", "1s"},
	} {
		t.Run(cmd, func(t *testing.T) {
			code, stdout, stderr := runBinary(t, cleanEnv(), append([]string{cmd, "extra"}, flags...)...)
			if code != 2 || stdout != "" || !strings.Contains(stderr, "extra") {
				t.Fatalf("syncwatch %s extra: exit %d, stdout %q, stderr %q; want exit 2 naming the argument", cmd, code, stdout, stderr)
			}
		})
	}
}
