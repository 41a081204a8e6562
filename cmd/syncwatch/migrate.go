package main

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/syncwatch/syncwatch/clickhouse"
	"github.com/syncwatch/syncwatch/config"
)

const migrateUsage = `usage: syncwatch migrate [flags] up | down | version | force VERSION

  up        apply every pending migration and the configured retention
  down      revert every migration (drops syncwatch's tables)
  version   print the schema version and whether it is dirty
  force N   record version N as applied and clean, after a manual repair
`

func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	s := config.New("migrate", migrateUsage, stderr)
	var store config.Storage
	var logs config.Log
	store.Register(s)
	logs.Register(s)
	if err := parseSettings(s, args, getenv); err != nil {
		return err
	}
	rest := s.Args()
	if len(rest) == 0 {
		s.Usage()
		return usageError{fmt.Errorf("migrate: missing action")}
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
	switch rest[0] {
	case "up":
		if err := st.Migrate(ctx); err != nil {
			return err
		}
	case "down":
		if err := m.Down(); err != nil {
			return err
		}
	case "force":
		if len(rest) != 2 {
			return usageError{fmt.Errorf("migrate force: want one version number")}
		}
		v, err := strconv.Atoi(rest[1])
		if err != nil || v < 0 {
			return usageError{fmt.Errorf("migrate force: %q is not a version number", rest[1])}
		}
		if err := m.Force(v); err != nil {
			return err
		}
	case "version":
	default:
		return usageError{fmt.Errorf("migrate: unknown action %q: want up, down, version or force", rest[0])}
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
