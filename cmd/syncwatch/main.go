// Command syncwatch watches sync jobs: it takes their run reports over HTTP,
// stores them in ClickHouse and publishes metrics for Prometheus.
//
//	syncwatch serve     run the ingest, query and metrics service
//	syncwatch export    serve the metrics computed from ClickHouse alone
//	syncwatch migrate   apply or inspect schema migrations
//	syncwatch run       run a job and report its run
//	syncwatch send      send one run report (for shell scripts)
//	syncwatch demo      feed a server realistic demo runs
//	syncwatch healthcheck  check a running syncwatch's /readyz (for containers)
//	syncwatch quarantine   list or replay the reports ClickHouse refused for good
//	syncwatch archive   list, export, verify, restore or drop archived months
//	syncwatch digest    preview a configured digest without sending it
//	syncwatch version   print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/mattn/go-isatty"
	"github.com/sirupsen/logrus"

	"github.com/syncwatch/syncwatch/clickhouse"
	"github.com/syncwatch/syncwatch/config"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `usage: syncwatch <command> [flags]

commands:
  serve     run the ingest, query and metrics service
  export    serve the metrics computed from ClickHouse alone (beside replicas)
  migrate   up | down | version | force N: manage the ClickHouse schema
  run       --type T -- CMD ARGS: run a job and report its run
  send      --type T --status S: send one run report, print its run_id
  demo      feed a server realistic runs of a supplier integration
  healthcheck  exit 0 when a running syncwatch answers /readyz (for containers)
  quarantine   list | replay: reports ClickHouse refused for good
  archive   list | export | verify | restore | drop MONTH: Parquet archive of months
  digest    preview NAME: render a configured digest without sending it
  version   print the version

Run 'syncwatch <command> -h' for the flags of a command. Every flag can also
be set as a SYNCWATCH_* environment variable or a key of the YAML file named
by --config; flags win over the environment, which wins over the file.
`

func main() {
	gin.SetMode(gin.ReleaseMode)
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run runs a command line with the process's standard input.
func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	return runIO(args, getenv, os.Stdin, stdout, stderr)
}

// runIO runs a command line with the given streams.
func runIO(args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var err error
	switch args[0] {
	case "serve":
		err = runServe(ctx, args[1:], getenv, stderr)
	case "export":
		err = runExport(ctx, args[1:], getenv, stderr)
	case "migrate":
		err = runMigrate(ctx, args[1:], getenv, stdin, stdout, stderr)
	case "run":
		return runWrapped(ctx, args[1:], getenv, os.Stdin, stdout, stderr)
	case "send":
		err = runSend(ctx, args[1:], getenv, stdin, stdout, stderr)
	case "demo":
		err = runDemo(ctx, args[1:], getenv, stdout, stderr)
	case "healthcheck":
		err = runHealthcheck(ctx, args[1:], getenv, stdout, stderr)
	case "quarantine":
		err = runQuarantine(ctx, args[1:], getenv, stdout, stderr)
	case "archive":
		err = runArchive(ctx, args[1:], getenv, stdout, stderr)
	case "digest":
		err = runDigest(ctx, args[1:], getenv, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "syncwatch", version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "syncwatch: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "syncwatch:", err)
		var ue usageError
		if errors.As(err, &ue) {
			return 2
		}
		return 1
	}
	return 0
}

// usageError marks an error in the command line.
type usageError struct{ error }

// storageConfig is the ClickHouse configuration of the storage settings.
func storageConfig(o config.Storage) clickhouse.Config {
	return clickhouse.Config{
		DSN:         o.DSN,
		DataDir:     o.DataDir,
		LibchdbPath: o.Libchdb,
		Database:    o.Database,
		Retention:   o.Retention,
		Cluster:     o.Cluster,
		AsyncInsert: o.AsyncInsert,
	}
}

// newLogger returns the logger the log settings describe, writing to out;
// the settings were validated when they were parsed.
func newLogger(o config.Log, out io.Writer) (*logrus.Logger, error) {
	l := logrus.New()
	l.SetOutput(out)
	lvl, err := logrus.ParseLevel(o.Level)
	if err != nil {
		return nil, usageError{fmt.Errorf("--log-level: %w", err)}
	}
	l.SetLevel(lvl)
	format := o.Format
	if format == "auto" {
		format = "json"
		if f, ok := out.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
			format = "text"
		}
	}
	switch format {
	case "json":
		l.SetFormatter(&logrus.JSONFormatter{TimestampFormat: time.RFC3339Nano})
	case "text":
		l.SetFormatter(&logrus.TextFormatter{FullTimestamp: true})
	default:
		return nil, usageError{fmt.Errorf("--log-format %q: want json, text or auto", o.Format)}
	}
	return l, nil
}

// parseSettings parses a subcommand's settings; every error but a request
// for help is a usage error (exit 2).
func parseSettings(s *config.Set, args []string, getenv func(string) string) error {
	if err := s.Parse(args, getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	return nil
}

// noArguments refuses arguments left after the flags of a subcommand that
// takes none.
func noArguments(s *config.Set) error {
	if len(s.Args()) > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", s.Args()[0])}
	}
	return nil
}
