package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/syncwatch/syncwatch/clickhouse"
	"github.com/syncwatch/syncwatch/config"
	"github.com/syncwatch/syncwatch/digest"
	"github.com/syncwatch/syncwatch/synclog"
)

const digestUsage = `usage: syncwatch digest preview NAME [flags]

Renders the digest NAME of the configuration file (its digests: list)
from ClickHouse, as its channels would get it, without sending it and
without recording anything. By default the last complete period; --date
picks a day inside another. It reads the same settings as serve, so give
it the same --config; with the embedded engine it cannot open a data
directory that a running serve holds: ask that server instead,
GET /api/v1/reports/digest?name=NAME.

flags:
`

// runDigest is `syncwatch digest`.
func runDigest(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	s := config.New("digest", digestUsage, stderr)
	var o serveOptions
	o.register(s)
	var date, format string
	s.Flags().StringVar(&date, "date", "", "a day (YYYY-MM-DD, in the digest's zone) inside the period to render; the last complete period by default")
	s.Flags().StringVar(&format, "format", "text", "text, markdown, slack, html or json")
	if err := parseSettings(s, args, getenv); err != nil {
		return err
	}
	rest := s.Args()
	if len(rest) != 2 || rest[0] != "preview" {
		return usageError{errors.New("want: digest preview NAME")}
	}
	d := o.notify.Digest(rest[1])
	if d == nil {
		var names []string
		for _, x := range o.notify.Digests {
			names = append(names, x.Name)
		}
		return usageError{fmt.Errorf("no digest is called %q in the configuration: configured are %q", rest[1], names)}
	}
	if !slices.Contains([]string{"text", "markdown", "slack", "html", "json"}, format) {
		return usageError{fmt.Errorf("--format %q: want text, markdown, slack, html or json", format)}
	}
	period := digest.PeriodBefore(d.Period, time.Now(), d.Location)
	if date != "" {
		day, err := time.ParseInLocation(time.DateOnly, date, d.Location)
		if err != nil {
			return usageError{fmt.Errorf("--date %q: want YYYY-MM-DD", date)}
		}
		period = digest.PeriodContaining(d.Period, day.Add(12*time.Hour), d.Location)
	}
	log, err := newLogger(o.logs, stderr)
	if err != nil {
		return err
	}
	types, err := synclog.NewSyncTypes(o.SyncTypes)
	if err != nil {
		return usageError{fmt.Errorf("--sync-types: %w", err)}
	}
	expected, err := o.metrics.config(types, nil, log)
	if err != nil {
		return err
	}
	store, err := clickhouse.Open(ctx, storageConfig(o.storage), log)
	if err != nil {
		return err
	}
	defer closeLogged(log, "clickhouse", store.Close)
	b := digest.NewBuilder(store, digest.BuilderConfig{
		SyncTypes: types.Names(), Expected: expected.ExpectedIntervals, ConsoleURL: o.notify.ConsoleURL, GrafanaURL: o.notify.GrafanaURL,
	})
	c, err := b.Build(ctx, digest.RequestFor(d, period))
	if err != nil {
		return err
	}
	var out string
	switch format {
	case "markdown":
		out = "### " + c.Title() + "\n\n" + c.Markdown()
	case "slack":
		out = c.Slack()
	case "html":
		if out, err = c.HTML(); err != nil {
			return err
		}
	case "json":
		b, err := json.MarshalIndent(c, "", "  ")
		if err != nil {
			return err
		}
		out = string(b) + "\n"
	default:
		out = c.Text()
	}
	if c.Empty && !d.SendEmpty {
		fmt.Fprintf(stderr, "syncwatch: the period %s has nothing to say: digest %s skips it (send_empty: true sends it)\n", period.Label, d.Name)
	}
	_, err = io.WriteString(stdout, out)
	return err
}

// digestScopes checks that the sync types digests name are configured.
func digestScopes(digests []config.Digest, syncTypes []string) error {
	var errs []error
	for _, d := range digests {
		for _, t := range d.SyncTypes {
			if !slices.Contains(syncTypes, t) {
				errs = append(errs, fmt.Errorf("digest %q: sync_types: %q is not a configured sync type (--sync-types: %s)", d.Name, t, strings.Join(syncTypes, ", ")))
			}
		}
	}
	return errors.Join(errs...)
}
