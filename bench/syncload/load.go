package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// loadOptions configure one load run.
type loadOptions struct {
	name        string
	target      string
	mode        string
	connections int
	duration    time.Duration
	rate        float64
	batch       int
	timeout     time.Duration
	ackedFile   string
	out         string
	idPrefix    string
	waitDrain   bool
	drainMax    time.Duration
	pid         int
	warmup      time.Duration
	token       string
}

// Result is the summary of one load run, written as JSON.
type Result struct {
	Name        string  `json:"name"`
	Mode        string  `json:"mode"`
	URL         string  `json:"url"`
	Connections int     `json:"connections"`
	Batch       int     `json:"batch,omitempty"`
	TargetRate  float64 `json:"target_rate,omitempty"`
	// Elapsed is the measured window in seconds (after the warm-up).
	Elapsed float64 `json:"elapsed_s"`
	// Requests counts the requests answered (any status) in the window.
	Requests int64 `json:"requests"`
	// Offered and Missed are the open-loop schedule's requests and those
	// the generator could not send because every connection was busy.
	Offered int64            `json:"offered,omitempty"`
	Missed  int64            `json:"missed,omitempty"`
	Status  map[string]int64 `json:"status"`
	Errors  int64            `json:"errors"`
	// ErrorSample is one of the transport errors, if any.
	ErrorSample string `json:"error_sample,omitempty"`
	// ReportsAcked counts reports (or pushes) acknowledged with a 2xx.
	ReportsAcked int64 `json:"reports_acked"`
	// ReportsAckedAll includes the warm-up, whose ids are written too.
	ReportsAckedAll int64   `json:"reports_acked_all"`
	RequestsPerSec  float64 `json:"requests_per_s"`
	ReportsPerSec   float64 `json:"reports_per_s"`
	// Latency of 2xx answers in milliseconds; open loop measures from the
	// scheduled send time, so that a stalled server is not hidden.
	Latency Percentiles `json:"latency_ms"`
	// LatencyAll covers every answer, refusals included.
	LatencyAll Percentiles `json:"latency_all_ms"`
	StartUnix  float64     `json:"start_unix"`
	EndUnix    float64     `json:"end_unix"`
	Drain      *Drain      `json:"drain,omitempty"`
	Memory     *Memory     `json:"memory,omitempty"`
	// CPU is the processor time the server (--pid) and the generator took
	// in the measured window, in seconds, and the server's per report.
	CPU *CPU `json:"cpu,omitempty"`
}

// CPU time over the measured window.
type CPU struct {
	ServerSeconds    float64 `json:"server_s"`
	GeneratorSeconds float64 `json:"generator_s"`
	// ServerPerReportUS is the server's CPU time per acknowledged report
	// (or request, for the baselines) in microseconds.
	ServerPerReportUS float64 `json:"server_per_report_us"`
}

// Percentiles of a latency sample.
type Percentiles struct {
	N    int     `json:"n"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
}

// Drain is what it took ClickHouse to hold every acknowledged report.
type Drain struct {
	// Drained is false when the spool did not empty within the limit.
	Drained bool `json:"drained"`
	// LastFlushUnix is the batcher's last successful insert.
	LastFlushUnix float64 `json:"last_flush_unix"`
	// Seconds from the first request to the last row stored.
	Seconds float64 `json:"seconds"`
	// ReportsPerSec is every acknowledged report over Seconds.
	ReportsPerSec float64 `json:"reports_per_s"`
	// SpoolPeakBytes is the largest spool seen while polling.
	SpoolPeakBytes int64 `json:"spool_peak_bytes"`
	SpoolMaxBytes  int64 `json:"spool_max_bytes"`
}

// Memory of the server process, sampled every second from /proc.
type Memory struct {
	PID         int     `json:"pid"`
	StartRSSMiB float64 `json:"start_rss_mib"`
	PeakRSSMiB  float64 `json:"peak_rss_mib"`
	EndRSSMiB   float64 `json:"end_rss_mib"`
	HWMMiB      float64 `json:"vm_hwm_mib"`
	Samples     []int64 `json:"rss_kib_samples"`
}

func runLoad(args []string) error {
	var o loadOptions
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.StringVar(&o.name, "name", "", "name of this scenario in the result")
	fs.StringVar(&o.target, "url", "", "target URL: the ingest endpoint (http://127.0.0.1:8080/api/v1/runs), the empty server, or the Pushgateway's base URL")
	fs.StringVar(&o.mode, "mode", "single", "single (one JSON report per request), ndjson (--batch reports per request) or pushgateway (PUT a text exposition)")
	fs.IntVar(&o.connections, "c", 64, "connections (closed loop: each sends its next request when the last is answered)")
	fs.DurationVar(&o.duration, "d", 10*time.Second, "duration of the measured window")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "load sent before the measured window (acknowledged ids are still written)")
	fs.Float64Var(&o.rate, "rate", 0, "open loop: requests per second over all connections (0: closed loop)")
	fs.IntVar(&o.batch, "batch", 1000, "reports per request in ndjson mode")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "per-request timeout")
	fs.StringVar(&o.ackedFile, "acked", "", "file to write the event_id of every acknowledged report to, one a line")
	fs.StringVar(&o.out, "out", "", "file to write the JSON result to (also printed)")
	fs.StringVar(&o.idPrefix, "id-prefix", "", "prefix of event and run ids (default: made from the time)")
	fs.BoolVar(&o.waitDrain, "wait-drain", false, "after the load, poll /api/v1/health until the spool is empty and report the end-to-end rate")
	fs.DurationVar(&o.drainMax, "drain-max", 3*time.Minute, "longest wait for the spool to empty")
	fs.StringVar(&o.token, "token", "", "bearer token sent with every request (ingest and, for --wait-drain, query)")
	fs.IntVar(&o.pid, "pid", 0, "process whose memory (VmRSS, VmHWM) is sampled every second")
	if err := fs.Parse(args); err != nil {
		return err
	}
	u, err := url.Parse(o.target)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return fmt.Errorf("--url %q: want http://host:port/path", o.target)
	}
	switch o.mode {
	case "single", "ndjson", "pushgateway":
	default:
		return fmt.Errorf("--mode %q: want single, ndjson or pushgateway", o.mode)
	}
	if o.connections < 1 || o.batch < 1 {
		return errors.New("-c and --batch must be positive")
	}
	if o.idPrefix == "" {
		o.idPrefix = "b" + strconv.FormatInt(time.Now().UnixMilli(), 36)
	}
	if o.name == "" {
		o.name = o.mode
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var mem *memSampler
	if o.pid > 0 {
		mem = startMemSampler(o.pid)
	}
	res, err := generate(ctx, &o, u)
	if err != nil {
		return err
	}
	if o.waitDrain {
		base := u.Scheme + "://" + u.Host
		res.Drain = waitDrain(ctx, base, o.token, res, o.drainMax)
	}
	if mem != nil {
		res.Memory = mem.stop()
	}
	out, _ := json.MarshalIndent(res, "", "  ")
	if o.out != "" {
		if err := os.WriteFile(o.out, append(out, '\n'), 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintln(os.Stderr, summaryLine(res))
	return nil
}

func summaryLine(r *Result) string {
	s := fmt.Sprintf("%-22s %9.0f req/s %10.0f reports/s  p50 %6.2f ms  p99 %7.2f ms  p999 %7.2f ms  status %v  errors %d",
		r.Name, r.RequestsPerSec, r.ReportsPerSec, r.Latency.P50, r.Latency.P99, r.Latency.P999, r.Status, r.Errors)
	if r.Missed > 0 {
		s += fmt.Sprintf("  missed %d/%d", r.Missed, r.Offered)
	}
	if r.Drain != nil {
		s += fmt.Sprintf("  end-to-end %.0f reports/s (drained %v in %.1fs)", r.Drain.ReportsPerSec, r.Drain.Drained, r.Drain.Seconds)
	}
	if r.Memory != nil {
		s += fmt.Sprintf("  RSS start %.0f peak %.0f MiB", r.Memory.StartRSSMiB, r.Memory.PeakRSSMiB)
	}
	if c := r.CPU; c != nil && r.Elapsed > 0 {
		s += fmt.Sprintf("  cores: server %.2f generator %.2f (server %.1f µs/report)", c.ServerSeconds/r.Elapsed, c.GeneratorSeconds/r.Elapsed, c.ServerPerReportUS)
	}
	return s
}

// workerStats are one worker's counts; merged at the end.
type workerStats struct {
	status    [600]int64
	errors    int64
	errSample error
	okLat     []int64 // ns, 2xx answers in the window
	allLat    []int64 // ns, every answer in the window
	acked     int64   // reports acknowledged in the window
	ackedAll  int64
	requests  int64
	ids       []byte // acknowledged event ids not yet written
}

func generate(ctx context.Context, o *loadOptions, u *url.URL) (*Result, error) {
	addr := u.Host
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(addr, "80")
	}
	path := u.RequestURI()
	var acked *os.File
	if o.ackedFile != "" {
		f, err := os.Create(o.ackedFile)
		if err != nil {
			return nil, err
		}
		acked = f
		defer f.Close()
	}
	var ackedMu sync.Mutex

	start := time.Now()
	windowStart := start.Add(o.warmup)
	end := windowStart.Add(o.duration)
	ctx, cancel := context.WithDeadline(ctx, end)
	defer cancel()

	// Open loop: a dispatcher hands out scheduled send times.
	var sched chan int64
	var offered, missed atomic.Int64
	if o.rate > 0 {
		sched = make(chan int64, max(o.connections, int(o.rate/100)))
		go dispatch(ctx, sched, o.rate, start, end, &offered, &missed, windowStart)
	}

	// CPU times at the start and the end of the measured window.
	var cpuStart, cpuEnd [2]float64
	cpuDone := make(chan struct{})
	go func() {
		defer close(cpuDone)
		select {
		case <-time.After(time.Until(windowStart)):
		case <-ctx.Done():
			return
		}
		cpuStart = cpuTimes(o.pid)
		<-ctx.Done()
		cpuEnd = cpuTimes(o.pid)
	}()

	stats := make([]*workerStats, o.connections)
	var wg sync.WaitGroup
	for w := range o.connections {
		st := &workerStats{}
		stats[w] = st
		wg.Add(1)
		go func() {
			defer wg.Done()
			flush := func(ids []byte) {
				if acked == nil || len(ids) == 0 {
					return
				}
				ackedMu.Lock()
				_, _ = acked.Write(ids)
				ackedMu.Unlock()
			}
			work(ctx, o, w, addr, path, sched, windowStart, st, flush)
			flush(st.ids)
		}()
	}
	wg.Wait()
	cancel()
	<-cpuDone
	stopped := time.Now()
	if stopped.After(end) {
		stopped = end
	}
	elapsed := stopped.Sub(windowStart).Seconds()

	res := &Result{Name: o.name, Mode: o.mode, URL: o.target, Connections: o.connections, TargetRate: o.rate,
		Elapsed: elapsed, Status: map[string]int64{}, StartUnix: unixSeconds(start), EndUnix: unixSeconds(stopped)}
	if o.mode == "ndjson" {
		res.Batch = o.batch
	}
	var okLat, allLat []int64
	for _, st := range stats {
		for code, n := range st.status {
			if n > 0 {
				res.Status[strconv.Itoa(code)] += n
			}
		}
		res.Errors += st.errors
		if st.errSample != nil && res.ErrorSample == "" {
			res.ErrorSample = st.errSample.Error()
		}
		res.Requests += st.requests
		res.ReportsAcked += st.acked
		res.ReportsAckedAll += st.ackedAll
		okLat = append(okLat, st.okLat...)
		allLat = append(allLat, st.allLat...)
	}
	if o.rate > 0 {
		res.Offered, res.Missed = offered.Load(), missed.Load()
	}
	if elapsed > 0 {
		res.RequestsPerSec = float64(res.Requests) / elapsed
		res.ReportsPerSec = float64(res.ReportsAcked) / elapsed
	}
	if cpuEnd[1] > 0 {
		res.CPU = &CPU{ServerSeconds: cpuEnd[0] - cpuStart[0], GeneratorSeconds: cpuEnd[1] - cpuStart[1]}
		n := res.ReportsAcked
		if n == 0 {
			n = res.Requests
		}
		if o.pid > 0 && n > 0 {
			res.CPU.ServerPerReportUS = res.CPU.ServerSeconds / float64(n) * 1e6
		}
	}
	res.Latency = percentiles(okLat)
	res.LatencyAll = percentiles(allLat)
	return res, nil
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// dispatch puts the send time of each scheduled request into sched, at
// rate per second, until end. A request finding every connection busy and
// the queue full is counted as missed rather than delayed: the schedule
// does not bend to a slow server.
func dispatch(ctx context.Context, sched chan<- int64, rate float64, start, end time.Time, offered, missed *atomic.Int64, window time.Time) {
	defer close(sched)
	interval := float64(time.Second) / rate
	var i int64
	for {
		now := time.Now()
		if !now.Before(end) || ctx.Err() != nil {
			return
		}
		due := int64(float64(now.Sub(start))/interval) + 1
		for ; i < due; i++ {
			at := start.Add(time.Duration(float64(i) * interval))
			inWindow := !at.Before(window)
			if inWindow {
				offered.Add(1)
			}
			select {
			case sched <- at.UnixNano():
			default:
				if inWindow {
					missed.Add(1)
				}
			}
		}
		time.Sleep(200 * time.Microsecond)
	}
}

func work(ctx context.Context, o *loadOptions, w int, addr, path string, sched <-chan int64, window time.Time, st *workerStats, flushIDs func([]byte)) {
	c := newConn(addr, o.timeout)
	if o.token != "" {
		c.auth = "Bearer " + o.token
	}
	defer c.close()
	gen := newReportGen(o.idPrefix, w)
	push := &pushGen{worker: w}
	windowNS := window.UnixNano()
	for ctx.Err() == nil {
		var begin int64
		if sched != nil {
			at, ok := <-sched
			if !ok {
				break
			}
			begin = at
		}
		var (
			method, ctype, p = "POST", "application/json", path
			body             []byte
			reports          int64 = 1
		)
		switch o.mode {
		case "single":
			body = gen.single()
		case "ndjson":
			body, ctype, reports = gen.ndjson(o.batch), "application/x-ndjson", int64(o.batch)
		case "pushgateway":
			var sub string
			sub, body = push.next()
			method, ctype, p = "PUT", "text/plain; version=0.0.4", trimSlash(path)+sub
		}
		if begin == 0 {
			begin = time.Now().UnixNano()
		}
		status, resp, err := c.do(method, p, ctype, body)
		done := time.Now().UnixNano()
		inWindow := begin >= windowNS
		if err != nil {
			st.errors++
			if st.errSample == nil {
				st.errSample = err
			}
			if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
				continue
			}
			// Do not spin on a refused connection.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if inWindow {
			st.requests++
			st.status[min(status, 599)]++
			st.allLat = append(st.allLat, done-begin)
		}
		if status < 200 || status > 299 {
			continue
		}
		n := reports
		if o.mode != "pushgateway" && len(resp) > 0 {
			n = acceptedCount(resp)
			if n != reports {
				// Not every report was taken: write none of its ids as
				// acknowledged and count it as an error.
				st.errors++
				if st.errSample == nil {
					st.errSample = fmt.Errorf("status %d accepted %d of %d: %.200s", status, n, reports, resp)
				}
				continue
			}
			st.ids = append(st.ids, gen.ids...)
			if len(st.ids) >= 256<<10 {
				flushIDs(st.ids)
				st.ids = st.ids[:0]
			}
		}
		st.ackedAll += n
		if inWindow {
			st.acked += n
			st.okLat = append(st.okLat, done-begin)
		}
	}
}

func trimSlash(s string) string {
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}

var acceptedKey = []byte(`"accepted":`)

// acceptedCount reads "accepted" from an ingest answer without decoding
// the rest, or returns -1.
func acceptedCount(body []byte) int64 {
	i := bytes.Index(body, acceptedKey)
	if i < 0 {
		return -1
	}
	rest := body[i+len(acceptedKey):]
	j := 0
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		j++
	}
	n, err := strconv.ParseInt(string(rest[:j]), 10, 64)
	if err != nil {
		return -1
	}
	return n
}

func percentiles(ns []int64) Percentiles {
	if len(ns) == 0 {
		return Percentiles{}
	}
	slices.Sort(ns)
	at := func(q float64) float64 {
		i := int(q*float64(len(ns))+0.5) - 1
		i = max(0, min(i, len(ns)-1))
		return float64(ns[i]) / 1e6
	}
	return Percentiles{N: len(ns), P50: at(0.50), P90: at(0.90), P99: at(0.99), P999: at(0.999), Max: float64(ns[len(ns)-1]) / 1e6}
}
