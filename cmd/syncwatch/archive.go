package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/syncwatch/syncwatch/archive"
	"github.com/syncwatch/syncwatch/clickhouse"
	"github.com/syncwatch/syncwatch/config"
	"github.com/syncwatch/syncwatch/web"
)

const archiveUsage = `usage: syncwatch archive list | export MONTH | verify MONTH | restore MONTH | drop MONTH [flags]

Keeps the months that retention removes, as Parquet files (ZSTD) with a
manifest, in --archive-dir or --archive-s3-url. MONTH is YYYY-MM.

  list     the months in the tables and in the archive
  export   write MONTH to the archive (the manifest last)
  verify   check MONTH's archive against its manifest and the tables
  restore  load MONTH back into the tables from its archive; a table that
           already holds it is left as it is
  drop     drop MONTH from the reports and runs tables, only once its
           archive verifies

It opens ClickHouse itself: with the embedded engine, stop the serve that
holds the data directory first (serve archives on its own with --archive).

flags:
`

// runArchive is `syncwatch archive`.
func runArchive(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	s := config.New("archive", archiveUsage, stderr)
	var store config.Storage
	var logs config.Log
	var arch config.Archive
	var asJSON bool
	store.Register(s)
	logs.Register(s)
	arch.Register(s)
	s.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	if err := parseSettings(s, args, getenv); err != nil {
		return err
	}
	// The command line is checked before ClickHouse is opened: a typo
	// touches nothing.
	rest := s.Args()
	if len(rest) == 0 {
		s.Usage()
		return usageError{errors.New("archive: missing action")}
	}
	action := rest[0]
	var month archive.Month
	switch action {
	case "list":
		if len(rest) > 1 {
			return usageError{fmt.Errorf("archive list: unexpected argument %q", rest[1])}
		}
	case "export", "verify", "restore", "drop":
		if len(rest) != 2 {
			return usageError{fmt.Errorf("archive %s: want one month, YYYY-MM", action)}
		}
		m, err := archive.ParseMonth(rest[1])
		if err != nil {
			return usageError{fmt.Errorf("archive %s: %w", action, err)}
		}
		month = m
	default:
		return usageError{fmt.Errorf("archive: unknown action %q: want list, export, verify, restore or drop", action)}
	}
	if !arch.Configured() {
		return usageError{errors.New("archive: set --archive-dir or --archive-s3-url")}
	}
	log, err := newLogger(logs, stderr)
	if err != nil {
		return err
	}
	cfg := storageConfig(store)
	cfg.RetentionByArchive = arch.Enabled
	st, err := clickhouse.Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	target, err := archiveTarget(arch, st)
	if err != nil {
		return err
	}
	a := archive.New(st, target, log)
	var out any
	switch action {
	case "list":
		list, err := a.List(ctx)
		if err != nil {
			return err
		}
		if !asJSON {
			return printArchiveList(stdout, list)
		}
		out = list
	case "export":
		man, err := a.Export(ctx, month)
		if err != nil {
			return err
		}
		out = man
	case "verify":
		man, err := a.Verify(ctx, month)
		if err != nil {
			return err
		}
		out = man
	case "restore":
		res, err := a.Restore(ctx, month)
		if err != nil {
			return err
		}
		out = res
	case "drop":
		if err := a.Drop(ctx, month); err != nil {
			return err
		}
		out = map[string]string{"dropped": month.String()}
	}
	if !asJSON {
		printArchiveResult(stdout, action, month, out)
		return nil
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// archiveTarget returns the archive target the settings name.
func archiveTarget(o config.Archive, st *clickhouse.Store) (archive.Target, error) {
	if o.Dir != "" {
		return archive.NewDirTarget(o.Dir)
	}
	var keyID, secret string
	if o.S3CredentialsFile != "" {
		var err error
		if keyID, secret, err = config.ReadS3Credentials(o.S3CredentialsFile); err != nil {
			return nil, fmt.Errorf("--archive-s3-credentials-file: %w", err)
		}
	}
	return archive.NewS3Target(o.S3URL, keyID, secret, st)
}

func printArchiveList(w io.Writer, list []archive.MonthStatus) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MONTH\tREPORTS\tRUNS\tARCHIVED\tARCHIVED RUNS\tNOTE")
	for _, m := range list {
		archived, runs := "no", "-"
		if m.Archived {
			archived = m.ArchivedAt.Format("2006-01-02 15:04")
			runs = fmt.Sprint(m.ArchivedRows["runs"])
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\n", m.Month, m.InTables["reports"], m.InTables["runs"], archived, runs, m.Error)
	}
	return tw.Flush()
}

func printArchiveResult(w io.Writer, action string, m archive.Month, out any) {
	switch r := out.(type) {
	case *archive.Manifest:
		verb := map[string]string{"export": "archived", "verify": "verified"}[action]
		var parts []string
		for _, f := range r.Files {
			parts = append(parts, fmt.Sprintf("%s %d rows", f.Table, f.Rows))
		}
		fmt.Fprintf(w, "%s %s: %s\n", verb, m, strings.Join(parts, ", "))
	case archive.RestoreResult:
		if len(r.Loaded) == 0 {
			fmt.Fprintf(w, "restored %s: the tables already held it\n", m)
			return
		}
		fmt.Fprintf(w, "restored %s into %s\n", m, strings.Join(r.Loaded, ", "))
	default:
		fmt.Fprintf(w, "dropped %s from reports and runs\n", m)
	}
}

// serveArchive is the automatic archive of serve, running beside the
// service.
type serveArchive struct {
	runner *archive.Runner
	cancel context.CancelFunc
	done   chan struct{}
}

// startArchive returns the archive the settings name (nil when none), and
// starts the automatic archive when they turn it on (nil when not).
func startArchive(ctx context.Context, o config.Archive, retention time.Duration, st *clickhouse.Store, reg prometheus.Registerer, log logrus.FieldLogger) (*archive.Archiver, *serveArchive, error) {
	if !o.Configured() {
		return nil, nil, nil
	}
	target, err := archiveTarget(o, st)
	if err != nil {
		return nil, nil, err
	}
	alog := log.WithField("component", "archive")
	a := archive.New(st, target, alog)
	if !o.Enabled {
		return a, nil, nil
	}
	runner, err := archive.NewRunner(a, archive.RunnerConfig{
		Retention: retention, Interval: o.Interval, KeepRestored: o.KeepRestored,
	}, reg, alog)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	sa := &serveArchive{runner: runner, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(sa.done)
		runner.Run(ctx)
	}()
	alog.WithFields(logrus.Fields{"target": target.String(), "interval": o.Interval}).Info("archiving months past the retention; the tables have no TTL")
	return a, sa, nil
}

// stop ends the archive and waits for a pass under way to notice.
func (sa *serveArchive) stop() {
	sa.cancel()
	<-sa.done
}

// check is the archive's component of /api/v1/health: failing while the
// latest pass failed.
func (sa *serveArchive) check() web.Check {
	return web.Check{Name: "archive", Run: func(context.Context) web.ComponentHealth {
		last, ok := sa.runner.Last()
		if !ok {
			return web.ComponentHealth{Detail: map[string]any{"passes": 0}}
		}
		h := web.ComponentHealth{Detail: map[string]any{
			"last_pass": last.At, "exported": last.Exported, "dropped": last.Dropped, "overdue": last.Overdue,
		}}
		if last.Err != nil {
			h.Error = last.Err.Error()
		}
		return h
	}}
}
