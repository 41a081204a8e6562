package main

import (
	"context"
	"fmt"
	"io"

	"github.com/sirupsen/logrus"

	"github.com/syncwatch/syncwatch/clickhouse"
)

func runServe(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	s := newSettings("serve")
	s.fs.SetOutput(stderr)
	var store storageOptions
	var logs logOptions
	var listen string
	var migrate bool
	store.register(s)
	logs.register(s)
	s.String(&listen, "listen", "127.0.0.1:8080", "address to listen on")
	s.Bool(&migrate, "migrate", true, "apply schema migrations at start-up")
	if err := parseSettings(s, args, getenv); err != nil {
		return err
	}
	log, err := logs.logger(stderr)
	if err != nil {
		return err
	}
	st, err := clickhouse.Open(ctx, store.config(), log)
	if err != nil {
		return err
	}
	defer st.Close()
	if migrate {
		if err := st.Migrate(ctx); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	}
	n, err := st.LoadAnchors(ctx)
	if err != nil {
		return err
	}
	log.WithFields(logrus.Fields{"engine": st.Engine(), "runs_in_progress": n}).Info("storage ready")
	<-ctx.Done()
	log.Info("shutting down")
	return nil
}
