package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/mattn/go-isatty"

	"github.com/syncwatch/syncwatch/clickhouse"
	"github.com/syncwatch/syncwatch/config"
)

const migrateUsage = `usage: syncwatch migrate up | down | version | force VERSION [flags]
       syncwatch migrate --print-ddl [--clickhouse-cluster NAME]

  up        apply every pending migration and the configured retention
  down      revert every migration (drops syncwatch's tables); off a
            terminal it wants --yes
  version   print the schema version and whether it is dirty
  force N   record version N as applied and clean, after a manual repair
  --print-ddl  print the schema's statements (for the cluster with
            --clickhouse-cluster) and touch no database: for operators who
            create the schema themselves and run serve with --migrate=false
`

// runMigrate is `syncwatch migrate`. Flags may come before or after the
// action; stdin answers the confirmation of a destructive down.
func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	s := config.New("migrate", migrateUsage, stderr)
	var store config.Storage
	var logs config.Log
	var yes bool
	store.Register(s)
	logs.Register(s)
	s.Flags().BoolVar(&yes, "yes", false, "confirm a destructive action (down) without asking")
	s.Flags().BoolVar(&store.NoServer, "print-ddl", false, "print the schema's DDL (the cluster's with --clickhouse-cluster) and exit, touching no database")
	if err := parseSettings(s, args, getenv); err != nil {
		return err
	}
	rest := s.Args()
	if store.NoServer {
		return printSchema(store, rest, stdout)
	}
	if len(rest) == 0 {
		s.Usage()
		return usageError{fmt.Errorf("migrate: missing action")}
	}
	// The action is checked before the database is opened: a typo
	// touches nothing.
	want := map[string]int{"up": 1, "down": 1, "version": 1, "force": 2}
	n, ok := want[rest[0]]
	switch {
	case !ok:
		return usageError{fmt.Errorf("migrate: unknown action %q: want up, down, version or force", rest[0])}
	case rest[0] == "force" && len(rest) != 2:
		return usageError{fmt.Errorf("migrate force: want one version number")}
	case len(rest) > n:
		return usageError{fmt.Errorf("migrate %s: unexpected argument %q", rest[0], rest[n])}
	}
	force := -1
	if rest[0] == "force" {
		v, err := strconv.Atoi(rest[1])
		if err != nil || v < 0 {
			return usageError{fmt.Errorf("migrate force: %q is not a version number", rest[1])}
		}
		force = v
	}
	if rest[0] == "down" && !yes {
		if err := confirm(stdin, stderr, "migrate down drops every syncwatch table of the "+store.Target()); err != nil {
			return err
		}
	}
	log, err := newLogger(logs, stderr)
	if err != nil {
		return err
	}
	st, err := clickhouse.Open(ctx, storageConfig(store), log)
	if err != nil {
		return err
	}
	defer st.Close()
	m, err := st.Migrator()
	if err != nil {
		return err
	}
	defer m.Close()
	switch rest[0] {
	case "up":
		if err := st.Migrate(ctx); err != nil {
			return err
		}
	case "down":
		fmt.Fprintf(stderr, "syncwatch: migrate down: reverting every migration of the %s\n", store.Target())
		if err := m.Down(); err != nil {
			return err
		}
	case "force":
		if err := m.Force(force); err != nil {
			return err
		}
	}
	v, dirty, err := m.Version()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "version %d", v)
	if dirty {
		fmt.Fprint(stdout, " (dirty)")
	}
	fmt.Fprintln(stdout)
	return nil
}

// printSchema is `syncwatch migrate --print-ddl`: the statements every
// up migration runs, for a single node or, with a cluster name, for the
// cluster. It needs no database, so it validates nothing but the name.
func printSchema(store config.Storage, rest []string, stdout io.Writer) error {
	if len(rest) > 0 {
		return usageError{fmt.Errorf("migrate --print-ddl: unexpected argument %q", rest[0])}
	}
	ddl, err := clickhouse.SchemaDDL(store.Cluster)
	if err != nil {
		return err
	}
	_, err = io.WriteString(stdout, ddl)
	return err
}

// confirm asks on stderr whether to go ahead with what and reads the
// answer from stdin when it is a terminal; anywhere else (a script, a
// pipe, CI) it refuses with a usage error that asks for --yes.
func confirm(stdin io.Reader, stderr io.Writer, what string) error {
	f, ok := stdin.(*os.File)
	if !ok || !isatty.IsTerminal(f.Fd()) {
		return usageError{fmt.Errorf("%s; standard input is not a terminal, so pass --yes to go ahead", what)}
	}
	fmt.Fprintf(stderr, "%s.\nType yes to go ahead: ", what)
	answer, _ := bufio.NewReader(stdin).ReadString('\n')
	if strings.TrimSpace(answer) != "yes" {
		return fmt.Errorf("%s: not confirmed, nothing changed", what)
	}
	return nil
}
