package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/syncwatch/syncwatch/collector"
	"github.com/syncwatch/syncwatch/config"
)

// quarantineOptions are the settings of `syncwatch quarantine`.
type quarantineOptions struct {
	server  serverOptions
	timeout time.Duration
	json    bool
}

const quarantineUsage = `usage: syncwatch quarantine list | replay [flags]

Shows or replays the reports a running syncwatch set aside because
ClickHouse refused them for good (an error that repeating the insert cannot
mend). They are on disk in <data-dir>/quarantine of that server, not in
ClickHouse.

  list     print each quarantined report with ClickHouse's error
  replay   move them back into the spool, for the batcher to insert once
           more (after the cause is mended); those still refused come back

Needs an admin token (--token or SYNCWATCH_TOKEN).

flags:
`

// runQuarantine is `syncwatch quarantine`.
func runQuarantine(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	s := config.New("quarantine", quarantineUsage, stderr)
	var o quarantineOptions
	o.server.register(s)
	s.Flags().DurationVar(&o.timeout, "timeout", 30*time.Second, "how long to wait for the server's answer")
	s.Flags().BoolVar(&o.json, "json", false, "list: print the server's JSON answer as it is")
	if err := parseSettings(s, args, getenv); err != nil {
		return err
	}
	rest := s.Args()
	if len(rest) != 1 || (rest[0] != "list" && rest[0] != "replay") {
		return usageError{errors.New("want one action: list or replay")}
	}
	base, err := url.Parse(strings.TrimRight(o.server.server, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return usageError{fmt.Errorf("--server %q: want an http(s) URL", o.server.server)}
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	method, path := http.MethodGet, "/api/v1/quarantine"
	if rest[0] == "replay" {
		method, path = http.MethodPost, "/api/v1/quarantine/replay"
	}
	body, err := adminCall(ctx, method, base.String()+path, o.server.token)
	if err != nil {
		return err
	}
	if rest[0] == "replay" {
		var r collector.QuarantineReplay
		if err := json.Unmarshal(body, &r); err != nil {
			return fmt.Errorf("decode the answer: %w", err)
		}
		fmt.Fprintf(stdout, "replayed %d reports into the spool\n", r.Replayed)
		return nil
	}
	if o.json {
		_, err := stdout.Write(append(body, '\n'))
		return err
	}
	var l collector.QuarantineList
	if err := json.Unmarshal(body, &l); err != nil {
		return fmt.Errorf("decode the answer: %w", err)
	}
	if l.Reports == 0 {
		fmt.Fprintln(stdout, "the quarantine is empty")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "QUARANTINED\tSOURCE\tSYNC TYPE\tSTATUS\tEVENT ID\tRUN ID\tERROR")
	for _, e := range l.Items {
		r := e.Report
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.At.UTC().Format(time.RFC3339), r.Source, r.SyncType, r.Status,
			r.EventID, r.RunID, cutText(strings.ReplaceAll(e.Error, "\n", " "), 200))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d reports; replay them with: syncwatch quarantine replay\n", l.Reports)
	return nil
}

// adminCall sends one request with the admin token and returns the body of
// a 2xx answer.
func adminCall(ctx context.Context, method, target, token string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, target, nil)
	if err != nil {
		return nil, fmt.Errorf("request %s: %w", target, err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("User-Agent", "syncwatch/"+version)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, target, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, fmt.Errorf("read the answer of %s: %w", target, err)
	}
	if resp.StatusCode/100 != 2 {
		var e collector.ErrorResponse
		msg := strings.TrimSpace(string(body))
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		return nil, fmt.Errorf("%s %s: %s: %s", method, target, resp.Status, cutText(msg, 500))
	}
	return body, nil
}

// cutText cuts s to at most n bytes at a character boundary, marking the cut.
func cutText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
