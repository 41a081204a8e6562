package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/syncwatch/syncwatch/client"
	"github.com/syncwatch/syncwatch/config"
	"github.com/syncwatch/syncwatch/synclog"
)

// defaultServer is the syncwatch a job reports to when none is configured.
const defaultServer = "http://127.0.0.1:8080"

// countsPrefix starts the line a wrapped command prints to give its record
// counts: SYNCWATCH total=N success=N failed=N.
const countsPrefix = "SYNCWATCH"

// serverOptions are the settings of the commands that report to a
// syncwatch server.
type serverOptions struct {
	server string
	token  string
}

func (o *serverOptions) register(s *config.Set) {
	s.String(&o.server, "server", defaultServer, "URL of the syncwatch server to report to")
	s.String(&o.token, "token", "", "bearer token for ingest; prefer the environment to the flag, which other users can see")
}

// client returns a client of the configured server.
func (o *serverOptions) client(opts ...client.Option) (*client.Client, error) {
	opts = append([]client.Option{client.WithToken(o.token), client.WithUserAgent("syncwatch/" + version)}, opts...)
	return client.New(o.server, opts...)
}

// attrFlag is a repeatable --attr key=value flag.
type attrFlag map[string]string

func (a attrFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if k = strings.TrimSpace(k); !ok || k == "" {
		return errors.New("want key=value")
	}
	a[k] = v
	return nil
}

func (a attrFlag) String() string {
	parts := make([]string, 0, len(a))
	for k, v := range a {
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, ",")
}

// runOptions are the settings of `syncwatch run`.
type runOptions struct {
	server        serverOptions
	syncType      string
	source        string
	maxOutput     int
	reportTimeout time.Duration
	startTimeout  time.Duration
	runID         string
	attrs         attrFlag
}

func (o *runOptions) register(s *config.Set) {
	o.server.register(s)
	s.String(&o.syncType, "type", "", "sync type of the job, e.g. products or prices (required)")
	s.String(&o.source, "source", "", "source of the job, the integration or supplier, e.g. haier (default: the server's, \"default\")")
	s.Int(&o.maxOutput, "max-output", 10<<10, fmt.Sprintf("bytes of the end of the command's output kept as the report's message (at most %d)", synclog.MaxMessageBytes))
	s.Check(func() error {
		if o.maxOutput < 0 || o.maxOutput > synclog.MaxMessageBytes {
			return s.Invalid("max-output", "%d: want 0 to %d bytes", o.maxOutput, synclog.MaxMessageBytes)
		}
		return nil
	})
	s.Duration(&o.reportTimeout, "report-timeout", 30*time.Second, "how long the final report is retried while syncwatch is unreachable")
	s.Duration(&o.startTimeout, "start-timeout", 2*time.Second, "how long the start report is tried; the job does not wait for it")
	s.Flags().StringVar(&o.runID, "run-id", "", "run id of the run (default: a new UUIDv7)")
	o.attrs = attrFlag{}
	s.Flags().Var(o.attrs, "attr", "attribute key=value added to the reports (repeatable)")
}

const runUsage = `usage: syncwatch run --type TYPE [--source SOURCE] [flags] -- COMMAND [ARG...]

Runs COMMAND with its stdin, stdout and stderr passed through and reports the
run to syncwatch: processing when it starts, and when it exits success (exit
code 0), failed (any other exit, or killed by a signal) or partial, with its
duration and the end of its output as the message. A line the command prints,

    SYNCWATCH total=N success=N failed=N

gives the record counts (the last such line wins; some records failed and
some succeeded makes the run partial). syncwatch run exits with the command's
exit code (128+N when signal N killed it), forwards SIGINT, SIGTERM and
SIGHUP to it (a Ctrl-C in the terminal reaches it directly), and runs it even
when syncwatch cannot be reached.

flags:
`

// runWrapped is `syncwatch run`: it returns the exit code of the process.
func runWrapped(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	stderr = &lockedWriter{w: stderr}
	s := config.New("run", runUsage, stderr)
	// The arguments are the job's command line: its flags are its own.
	s.Interspersed(false)
	var o runOptions
	o.register(s)
	if err := parseSettings(s, args, getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "syncwatch run:", err)
		return 2
	}
	argv := s.Args()
	switch {
	case len(argv) == 0:
		fmt.Fprint(stderr, "syncwatch run: no command to run\n\n"+runUsage[:strings.Index(runUsage, "\n\n")+1])
		return 2
	case strings.TrimSpace(o.syncType) == "":
		fmt.Fprintln(stderr, "syncwatch run: --type is required (or SYNCWATCH_TYPE): the sync type the job reports as, e.g. products")
		return 2
	}
	warn := func(format string, args ...any) {
		fmt.Fprintf(stderr, "syncwatch run: warning: "+format+"\n", args...)
	}

	// Signals are caught before the command starts, so that none is lost;
	// SIGPIPE is caught so that a closed stdout makes writes fail (and the
	// command see its pipe closed) instead of killing syncwatch unreported.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	pipes := make(chan os.Signal, 1)
	signal.Notify(pipes, syscall.SIGPIPE)
	defer signal.Stop(pipes)

	attrs := map[string]string{"command": filepath.Base(argv[0])}
	if host, err := os.Hostname(); err == nil {
		attrs["host"] = host
	}
	for k, v := range o.attrs {
		attrs[k] = v
	}
	started := time.Now()
	var (
		handle    *client.RunHandle
		final     *client.Client
		startDone = make(chan struct{})
	)
	// The start report goes in the background, bounded by --start-timeout:
	// the job starts at once.
	startCtx, startCancel := context.WithTimeout(context.WithoutCancel(ctx), o.startTimeout)
	defer startCancel()
	start, err := o.server.client(client.WithTimeout(o.startTimeout), client.WithRetries(3), client.WithBackoff(100*time.Millisecond, 500*time.Millisecond))
	if err == nil {
		final, err = o.server.client(client.WithTimeout(min(o.reportTimeout, client.DefaultTimeout)), client.WithRetries(1000), client.WithBackoff(250*time.Millisecond, 5*time.Second))
	}
	if err != nil {
		warn("%v; the job runs without being reported", err)
		close(startDone)
	} else {
		handle = start.NewRun(client.Run{SyncType: o.syncType, Source: o.source, Attributes: attrs, RunID: o.runID, StartedAt: started})
		go func() {
			defer close(startDone)
			if err := handle.Start(startCtx); err != nil {
				warn("%v; the job runs anyway", err)
			}
		}()
	}

	out := newTail(o.maxOutput)
	var counts countsLine
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin = stdin
	cmd.Stdout = &tee{w: stdout, tail: out, scan: &lineScanner{found: counts.set}}
	cmd.Stderr = &tee{w: stderr, tail: out, scan: &lineScanner{found: counts.set}}
	// A background process the command leaves holding its output open
	// must not keep syncwatch (and the report) waiting for ever.
	cmd.WaitDelay = 5 * time.Second

	res := runChild(cmd, sigs)
	// A signal that raced with the command's exit is not a second one.
	for len(sigs) > 0 {
		<-sigs
	}
	cmd.Stdout.(*tee).scan.flush()
	cmd.Stderr.(*tee).scan.flush()
	if res.startErr != nil {
		fmt.Fprintf(stderr, "syncwatch run: %v\n", res.startErr)
	}
	completed := time.Now()

	// The start report goes first (it is done or about to give up).
	<-startDone
	if handle == nil {
		return res.code
	}
	result := outcome(res, counts.get(), out.String(), attrs)
	result.CompletedAt = completed
	report, err := handle.FinishReport(result)
	if err != nil {
		warn("%v", err)
		return res.code
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.reportTimeout)
	defer cancel()
	// A signal now (a second Ctrl-C) gives up on the report.
	go func() {
		select {
		case <-sigs:
			cancel()
		case <-fctx.Done():
		}
	}()
	if _, err := final.Send(fctx, report); err != nil {
		warn("report the end of run %s (%s): %v", handle.RunID(), report.Status, err)
	}
	return res.code
}

// childResult is how a command ended.
type childResult struct {
	code     int
	signal   string
	startErr error
}

// runChild starts cmd, forwards the signals from sigs to it and waits for
// it to end. code is the exit code a shell would give: the command's own,
// 128+N when signal N ended it, 127 when it was not found and 126 when it
// could not be executed.
func runChild(cmd *exec.Cmd, sigs <-chan os.Signal) childResult {
	if err := cmd.Start(); err != nil {
		code := 126
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
			code = 127
		}
		return childResult{code: code, startErr: fmt.Errorf("cannot run %s: %w", cmd.Args[0], err)}
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case sig := <-sigs:
			if sig == syscall.SIGINT && foregroundOfTerminal() {
				// Ctrl-C in the terminal reached the command already: it
				// shares our process group.
				continue
			}
			_ = cmd.Process.Signal(sig)
		case <-done:
			return exitResult(cmd.ProcessState)
		}
	}
}

// foregroundOfTerminal reports whether this process is in the foreground
// process group of its controlling terminal, where the terminal's SIGINT
// goes to every process of the group.
func foregroundOfTerminal() bool {
	f, err := os.Open("/dev/tty")
	if err != nil {
		return false
	}
	defer f.Close()
	pgrp, err := unix.IoctlGetInt(int(f.Fd()), unix.TIOCGPGRP)
	return err == nil && pgrp == unix.Getpgrp()
}

func exitResult(ps *os.ProcessState) childResult {
	if ps == nil {
		return childResult{code: 1}
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		sig := ws.Signal()
		name := unix.SignalName(sig)
		if name == "" {
			name = "signal " + strconv.Itoa(int(sig))
		}
		return childResult{code: 128 + int(sig), signal: name}
	}
	return childResult{code: ps.ExitCode()}
}

// outcome turns how the command ended, its counts line and the end of its
// output into the run's result. attrs gains the exit code and signal.
func outcome(res childResult, c *counts, output string, attrs map[string]string) client.Result {
	var r client.Result
	r.Attributes = map[string]string{"exit_code": strconv.Itoa(res.code)}
	if res.signal != "" {
		r.Attributes["signal"] = res.signal
	}
	if c != nil {
		r.Total, r.Success, r.Failed = c.total, c.success, c.failed
		if r.Total < r.Success+r.Failed {
			r.Total = r.Success + r.Failed
		}
	}
	switch {
	case res.signal != "" || res.startErr != nil:
		r.Status = client.StatusFailed
	case r.Failed > 0 && r.Success > 0:
		r.Status = client.StatusPartial
	case res.code != 0 || r.Failed > 0:
		r.Status = client.StatusFailed
	default:
		r.Status = client.StatusSuccess
	}
	msg := synclog.Redact(output)
	if len(msg) > synclog.MaxMessageBytes {
		msg = validTail(msg[len(msg)-synclog.MaxMessageBytes:])
	}
	if strings.TrimSpace(msg) == "" && r.Status == client.StatusFailed {
		switch {
		case res.startErr != nil:
			msg = res.startErr.Error()
		case res.signal != "":
			msg = fmt.Sprintf("%s was killed by %s", attrs["command"], res.signal)
		case res.code == 0:
			msg = fmt.Sprintf("%d of %d records failed", r.Failed, r.Total)
		default:
			msg = fmt.Sprintf("%s exited with code %d", attrs["command"], res.code)
		}
	}
	r.Message = msg
	return r
}

// tee passes a command's output through to w, keeping its end and looking
// for counts lines. Once w fails, the command's next write fails too, as
// in a shell pipeline.
type tee struct {
	w    io.Writer
	err  error
	tail *tail
	scan *lineScanner
}

func (t *tee) Write(p []byte) (int, error) {
	t.tail.Write(p)
	t.scan.Write(p)
	if t.err == nil {
		_, t.err = t.w.Write(p)
	}
	if t.err != nil {
		return 0, t.err
	}
	return len(p), nil
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func newTail(max int) *tail { return &tail{max: max, buf: make([]byte, 0, 2*max)} }

func (t *tail) Write(p []byte) (int, error) {
	n := len(p)
	if t.max == 0 {
		return n, nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(p) >= t.max {
		t.buf = append(t.buf[:0], p[len(p)-t.max:]...)
		return n, nil
	}
	if len(t.buf)+len(p) > cap(t.buf) {
		keep := t.max - len(p)
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-keep:]...)
	}
	t.buf = append(t.buf, p...)
	return n, nil
}

// String returns the kept bytes, at most max, starting at a UTF-8 character
// boundary.
func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.buf
	if len(b) > t.max {
		b = b[len(b)-t.max:]
	}
	return validTail(string(b))
}

// validTail drops the bytes of a character cut at the start of s.
func validTail(s string) string {
	for i := 0; i < utf8.UTFMax && i < len(s); i++ {
		if utf8.RuneStart(s[i]) {
			return s[i:]
		}
	}
	return s
}

// maxCountsLine bounds the line a counts line is looked for in.
const maxCountsLine = 4096

// lineScanner finds counts lines in a stream.
type lineScanner struct {
	line     []byte
	overflow bool
	found    func(counts)
}

func (s *lineScanner) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			s.add(p)
			break
		}
		s.add(p[:i])
		s.flush()
		p = p[i+1:]
	}
	return n, nil
}

func (s *lineScanner) add(p []byte) {
	if s.overflow {
		return
	}
	if len(s.line)+len(p) > maxCountsLine {
		s.overflow = true
		return
	}
	s.line = append(s.line, p...)
}

// flush ends the current line.
func (s *lineScanner) flush() {
	if !s.overflow {
		if c, ok := parseCounts(string(s.line)); ok {
			s.found(c)
		}
	}
	s.line, s.overflow = s.line[:0], false
}

// counts are the record counts of a run.
type counts struct {
	total, success, failed uint64
}

// parseCounts reads a line "SYNCWATCH total=N success=N failed=N"; keys
// may come in any order and be missing (then they are 0), unknown keys are
// ignored.
func parseCounts(line string) (counts, bool) {
	fields := strings.Fields(line)
	if len(fields) < 2 || fields[0] != countsPrefix {
		return counts{}, false
	}
	var c counts
	seen := false
	for _, f := range fields[1:] {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			continue
		}
		switch strings.ToLower(k) {
		case "total":
			c.total = n
		case "success":
			c.success = n
		case "failed":
			c.failed = n
		default:
			continue
		}
		seen = true
	}
	return c, seen
}

// countsLine holds the last counts line of either stream.
type countsLine struct {
	mu sync.Mutex
	c  *counts
}

func (l *countsLine) set(c counts) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.c = &c
}

func (l *countsLine) get() *counts {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.c
}

// lockedWriter serialises writes from the command's stderr and syncwatch's
// own warnings.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
