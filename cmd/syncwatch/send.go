package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/syncwatch/syncwatch/client"
	"github.com/syncwatch/syncwatch/config"
	"github.com/syncwatch/syncwatch/synclog"
)

// sendOptions are the settings of `syncwatch send`.
type sendOptions struct {
	server      serverOptions
	syncType    string
	source      string
	timeout     time.Duration
	status      string
	total       uint64Value
	success     uint64Value
	failed      uint64Value
	message     string
	runID       string
	eventID     string
	startedAt   timeValue
	completedAt timeValue
	attrs       attrFlag
}

func (o *sendOptions) register(s *config.Set) {
	o.server.register(s)
	s.String(&o.syncType, "type", "", "sync type of the run, e.g. products (required)")
	s.String(&o.source, "source", "", "source of the run, e.g. haier (default: the server's, \"default\")")
	s.Duration(&o.timeout, "report-timeout", 30*time.Second, "how long the report is retried while syncwatch is unreachable")
	// The fields of one report are flags only: an environment variable
	// left over in a shell must not slip into every report.
	s.Flags().StringVar(&o.status, "status", "", "status: pending, processing, success, failed or partial (required)")
	s.Flags().Var(&o.total, "total", "records in the run")
	s.Flags().Var(&o.success, "success", "records synced")
	s.Flags().Var(&o.failed, "failed", "records that failed")
	s.Flags().StringVar(&o.message, "message", "", "message or error text; - reads it from stdin (its last 64 KiB)")
	s.Flags().StringVar(&o.runID, "run-id", "", "run id, to report on a run started earlier (default: a new UUIDv7)")
	s.Flags().StringVar(&o.eventID, "event-id", "", "event id; give the same one when you retry this report (default: a new UUIDv7)")
	s.Flags().Var(&o.startedAt, "started-at", "start of the run, RFC 3339 (e.g. $(date -u +%FT%TZ)) or now (default: the server's clock)")
	s.Flags().Var(&o.completedAt, "completed-at", "end of the run, RFC 3339 or now (default for a final status: the server's clock)")
	o.attrs = attrFlag{}
	s.Flags().Var(o.attrs, "attr", "attribute key=value (repeatable)")
}

const sendUsage = `usage: syncwatch send --type TYPE --status STATUS [flags]

Sends one run report and prints its run_id. Report the start of a run with
--status processing, keep the printed run_id, and report the end with the
same --run-id and a final status (success, failed or partial). Exits 0 when
syncwatch accepted the report (or already had it), 1 with the server's
error otherwise, 2 for a mistake on the command line.

flags:
`

// runSend is `syncwatch send`.
func runSend(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	s := config.New("send", sendUsage, stderr)
	var o sendOptions
	o.register(s)
	if err := parseSettings(s, args, getenv); err != nil {
		return err
	}
	if len(s.Args()) > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", s.Args()[0])}
	}
	if strings.TrimSpace(o.syncType) == "" {
		return usageError{errors.New("--type is required: the sync type of the run, e.g. products")}
	}
	if o.status == "" {
		return usageError{errors.New("--status is required: pending, processing, success, failed or partial")}
	}
	status, err := synclog.ParseStatus(o.status)
	if err != nil {
		return usageError{fmt.Errorf("--status: %w", err)}
	}
	msg := o.message
	if msg == "-" {
		data, err := readTail(stdin, synclog.MaxMessageBytes)
		if err != nil {
			return fmt.Errorf("read the message from stdin: %w", err)
		}
		msg = data
	}
	r := client.Report{
		RunID: o.runID, EventID: o.eventID, Source: o.source, SyncType: o.syncType, Status: status,
		Message:    msg,
		TotalCount: uint64(o.total), SuccessCount: uint64(o.success), FailedCount: uint64(o.failed),
		StartedAt: time.Time(o.startedAt), CompletedAt: time.Time(o.completedAt),
	}
	if r.TotalCount == 0 {
		r.TotalCount = r.SuccessCount + r.FailedCount
	}
	if len(o.attrs) > 0 {
		r.Attributes = map[string]string(o.attrs)
	}
	c, err := o.server.client(client.WithTimeout(min(o.timeout, client.DefaultTimeout)), client.WithRetries(1000))
	if err != nil {
		return usageError{fmt.Errorf("--server: %w", err)}
	}
	rctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	resp, err := c.Send(rctx, r)
	if err != nil {
		return err
	}
	if len(resp.Items) == 0 {
		return errors.New("syncwatch accepted the report but gave no run_id")
	}
	it := resp.Items[0]
	if it.Duplicate {
		fmt.Fprintf(stderr, "syncwatch send: event %s was already stored (a retry); nothing new was stored\n", it.EventID)
	}
	fmt.Fprintln(stdout, it.RunID)
	return nil
}

// readTail reads r to its end and returns the last max bytes.
func readTail(r io.Reader, max int) (string, error) {
	t := newTail(max)
	if _, err := io.Copy(t, r); err != nil {
		return "", err
	}
	return t.String(), nil
}

// uint64Value is a flag of a non-negative integer.
type uint64Value uint64

func (v *uint64Value) Set(s string) error {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return errors.New("want a non-negative integer")
	}
	*v = uint64Value(n)
	return nil
}

func (v *uint64Value) String() string { return strconv.FormatUint(uint64(*v), 10) }

// timeValue is a flag of an RFC 3339 timestamp or "now".
type timeValue time.Time

func (v *timeValue) Set(s string) error {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "now") {
		*v = timeValue(time.Now().UTC().Truncate(time.Millisecond))
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("want an RFC 3339 time such as 2026-01-02T15:04:05Z or now, got %q", s)
	}
	*v = timeValue(t)
	return nil
}

func (v *timeValue) String() string {
	if time.Time(*v).IsZero() {
		return ""
	}
	return time.Time(*v).Format(time.RFC3339Nano)
}
