package main

import (
	"strconv"
	"time"
)

var (
	syncTypes = []string{"products", "prices", "stock", "order", "logistics", "manual"}
	sources   = []string{"haier", "midea", "gree", "hisense", "tcl", "default"}
	triggers  = []string{"cron", "celery", "manual", "webhook"}
	failures  = []string{
		"HTTP 503 from supplier API (request %d)",
		"Connection TIMEOUT after %d ms to db-3",
		"invalid SKU %d: price must be positive",
	}
)

// reportGen makes the reports of one worker: runs of two reports each, a
// "processing" one when the run starts and a terminal one when it ends,
// with the same run_id and started_at, as a real job sends them. Every
// report has an event_id unique to the benchmark run.
type reportGen struct {
	prefix string // unique to the benchmark run and worker
	seq    uint64 // reports made
	start  time.Time
	buf    []byte
	ids    []byte // event ids of the last body, '\n'-terminated
}

func newReportGen(prefix string, worker int) *reportGen {
	return &reportGen{prefix: prefix + "-" + strconv.Itoa(worker) + "-"}
}

// single returns one report as a JSON object.
func (g *reportGen) single() []byte {
	g.buf = g.buf[:0]
	g.ids = g.ids[:0]
	g.buf = g.appendReport(g.buf, time.Now())
	return g.buf
}

// ndjson returns n reports, one per line.
func (g *reportGen) ndjson(n int) []byte {
	g.buf = g.buf[:0]
	g.ids = g.ids[:0]
	now := time.Now()
	for range n {
		g.buf = g.appendReport(g.buf, now)
		g.buf = append(g.buf, '\n')
	}
	return g.buf
}

func (g *reportGen) appendReport(b []byte, now time.Time) []byte {
	k := g.seq
	g.seq++
	run := k / 2
	h := mix(run)
	typ := syncTypes[h%uint64(len(syncTypes))]
	src := sources[(h>>8)%uint64(len(sources))]
	if k%2 == 0 {
		g.start = now.Add(-time.Duration(h%60000) * time.Millisecond).Truncate(time.Millisecond)
	}
	b = append(b, `{"run_id":"`...)
	b = append(b, g.prefix...)
	b = append(b, 'r')
	b = strconv.AppendUint(b, run, 10)
	b = append(b, `","event_id":"`...)
	idStart := len(b)
	b = append(b, g.prefix...)
	b = strconv.AppendUint(b, k, 10)
	g.ids = append(g.ids, b[idStart:]...)
	g.ids = append(g.ids, '\n')
	b = append(b, `","source":"`...)
	b = append(b, src...)
	b = append(b, `","sync_type":"`...)
	b = append(b, typ...)
	total := 50 + h%2000
	if k%2 == 0 {
		b = append(b, `","status":"processing","message":"processing batch 1 of `...)
		b = strconv.AppendUint(b, 1+total/500, 10)
		b = append(b, `","total_count":`...)
		b = strconv.AppendUint(b, total, 10)
		b = append(b, `,"success_count":0,"failed_count":0,"started_at":"`...)
		b = g.start.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	} else {
		failed := uint64(0)
		status := "success"
		switch h % 20 {
		case 0, 1:
			status, failed = "failed", total
		case 2:
			status, failed = "partial", 1+h%total/10
		}
		b = append(b, `","status":"`...)
		b = append(b, status...)
		b = append(b, `","message":"`...)
		if status == "success" {
			b = append(b, "synced "...)
			b = strconv.AppendUint(b, total, 10)
			b = append(b, " items"...)
		} else {
			f := failures[(h>>16)%uint64(len(failures))]
			b = appendFormatted(b, f, h%100000)
		}
		b = append(b, `","total_count":`...)
		b = strconv.AppendUint(b, total, 10)
		b = append(b, `,"success_count":`...)
		b = strconv.AppendUint(b, total-failed, 10)
		b = append(b, `,"failed_count":`...)
		b = strconv.AppendUint(b, failed, 10)
		b = append(b, `,"started_at":"`...)
		b = g.start.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
		b = append(b, `","completed_at":"`...)
		b = now.UTC().Truncate(time.Millisecond).AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	}
	b = append(b, `","attributes":{"host":"worker-`...)
	b = strconv.AppendUint(b, h%16, 10)
	b = append(b, `","version":"1.4.2","trigger":"`...)
	b = append(b, triggers[(h>>24)%uint64(len(triggers))]...)
	b = append(b, `"}}`...)
	return b
}

// appendFormatted replaces the one %d in f with n.
func appendFormatted(b []byte, f string, n uint64) []byte {
	for i := 0; i+1 < len(f); i++ {
		if f[i] == '%' && f[i+1] == 'd' {
			b = append(b, f[:i]...)
			b = strconv.AppendUint(b, n, 10)
			return append(b, f[i+2:]...)
		}
	}
	return append(b, f...)
}

// mix is a cheap 64-bit hash (splitmix64's finaliser).
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// pushGen makes Pushgateway pushes: the few gauges a batch job pushes when
// it ends, in the text exposition format, to its group (job = sync type,
// instance = source: 36 groups, as the jobs syncwatch's load stands for
// would use).
type pushGen struct {
	worker int
	seq    uint64
	buf    []byte
	path   []byte
}

func (p *pushGen) next() (path string, body []byte) {
	h := mix(p.seq<<16 | uint64(p.worker))
	p.seq++
	typ := syncTypes[h%uint64(len(syncTypes))]
	src := sources[(h>>8)%uint64(len(sources))]
	p.path = append(p.path[:0], "/metrics/job/sync_"...)
	p.path = append(p.path, typ...)
	p.path = append(p.path, "/instance/"...)
	p.path = append(p.path, src...)
	now := time.Now()
	total := 50 + h%2000
	failed := uint64(0)
	if h%20 < 2 {
		failed = total
	}
	b := p.buf[:0]
	b = append(b, "# TYPE sync_job_last_run_timestamp_seconds gauge\nsync_job_last_run_timestamp_seconds "...)
	b = strconv.AppendFloat(b, float64(now.UnixMilli())/1000, 'f', 3, 64)
	b = append(b, "\n# TYPE sync_job_last_success_timestamp_seconds gauge\nsync_job_last_success_timestamp_seconds "...)
	b = strconv.AppendFloat(b, float64(now.UnixMilli())/1000, 'f', 3, 64)
	b = append(b, "\n# TYPE sync_job_duration_seconds gauge\nsync_job_duration_seconds "...)
	b = strconv.AppendFloat(b, float64(h%60000)/1000, 'f', 3, 64)
	b = append(b, "\n# TYPE sync_job_items gauge\nsync_job_items{outcome=\"success\"} "...)
	b = strconv.AppendUint(b, total-failed, 10)
	b = append(b, "\nsync_job_items{outcome=\"failed\"} "...)
	b = strconv.AppendUint(b, failed, 10)
	b = append(b, '\n')
	p.buf = b
	return string(p.path), b
}
