package archive_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/syncwatch/syncwatch/archive"
	"github.com/syncwatch/syncwatch/clickhouse"
	"github.com/syncwatch/syncwatch/internal/testutil"
)

// killEnv makes the test binary a helper process of TestKilledExport:
// "export" loads a month and exports it, stopping before the manifest;
// "check" reopens the data directory and checks what the kill left.
const killEnv = "SYNCWATCH_ARCHIVE_KILL_HELPER"

// blockingTarget signals that every data file is written and blocks
// before the manifest, until the process is killed.
type blockingTarget struct {
	archive.Target
	ready string
}

func (b blockingTarget) WriteManifest(context.Context, archive.Month, []byte) error {
	if err := os.WriteFile(b.ready, nil, 0o644); err != nil {
		return err
	}
	select {} // killed here
}

func killHelper(role string) int {
	dataDir, archiveDir := os.Getenv("KILL_DATA_DIR"), os.Getenv("KILL_ARCHIVE_DIR")
	log := logrus.New()
	log.SetOutput(os.Stderr)
	ctx := context.Background()
	st, err := clickhouse.Open(ctx, clickhouse.Config{DataDir: dataDir, LibchdbPath: os.Getenv("KILL_LIBCHDB"), PoolSize: 2, RetentionByArchive: true}, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	// Close the engine before the process exits: libchdb's own exit
	// handlers crash on an engine left open with background work.
	defer func() {
		if err := st.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "close:", err)
		}
	}()
	d, err := archive.NewDirTarget(archiveDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	m, _ := archive.ParseMonth("2026-08")
	switch role {
	case "export":
		if err := st.Migrate(ctx); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 3
		}
		loadMonth(helperTB{}, st, m, 500)
		_, err := archive.New(st, blockingTarget{d, filepath.Join(archiveDir, "ready")}, log).Export(ctx, m)
		fmt.Fprintln(os.Stderr, "export returned:", err)
		return 4
	case "check":
		a := archive.New(st, d, log)
		if err := a.Drop(ctx, m); !errors.Is(err, archive.ErrNoManifest) {
			fmt.Fprintln(os.Stderr, "drop after the kill:", err)
			return 5
		}
		for _, tb := range []string{"reports", "runs"} {
			sum, err := st.MonthSum(ctx, tb, m)
			if err != nil || sum.Rows == 0 {
				fmt.Fprintln(os.Stderr, "month lost from", tb, sum, err)
				return 5
			}
		}
		if _, err := a.Export(ctx, m); err != nil {
			fmt.Fprintln(os.Stderr, "export after the kill:", err)
			return 5
		}
		if err := a.Drop(ctx, m); err != nil {
			fmt.Fprintln(os.Stderr, "drop after a new export:", err)
			return 5
		}
		fmt.Println("checked")
		return 0
	}
	return 2
}

// helperTB is the testing.TB of a helper process: a failure ends it.
type helperTB struct{ testing.TB }

func (helperTB) Helper() {}
func (helperTB) Fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(3)
}

// TestKilledExport kills (SIGKILL) a process exporting a month once its
// data files are written and before its manifest, then checks in a new
// process that there is no manifest, that the month cannot be dropped and
// is whole in the tables, and that a new export completes it.
func TestKilledExport(t *testing.T) {
	dataDir, archiveDir := t.TempDir(), t.TempDir()
	env := append(os.Environ(), "KILL_DATA_DIR="+dataDir, "KILL_ARCHIVE_DIR="+archiveDir,
		"KILL_LIBCHDB="+testutil.Libchdb(t, clickhouse.DefaultLibchdbPath()))
	var stderr strings.Builder
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(env, killEnv+"=export")
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := filepath.Join(archiveDir, "ready")
	deadline := time.Now().Add(time.Minute)
	for {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("the export never reached its manifest:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	files, _ := filepath.Glob(filepath.Join(archiveDir, "2026-08", "*"))
	if len(files) != 3 {
		t.Fatalf("files after the kill: %v, want the three data files", files)
	}
	for _, f := range files {
		if strings.Contains(f, "manifest") {
			t.Fatalf("a manifest after the kill: %s", f)
		}
	}
	check := exec.Command(os.Args[0], "-test.run=^$")
	check.Env = append(env, killEnv+"=check")
	out, err := check.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "checked") {
		t.Fatalf("check after the kill: %v\n%s", err, out)
	}
}
