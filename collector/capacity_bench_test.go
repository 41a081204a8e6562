package collector_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/syncwatch/syncwatch/collector"
	"github.com/syncwatch/syncwatch/internal/apptest"
	"github.com/syncwatch/syncwatch/internal/testutil"
)

// BenchmarkCollectorCapacity measures what one collector core takes with
// ClickHouse out of the process: single-report POSTs through the whole
// handler chain (decoding, validation, redaction, dedup, anchors, the
// fsync'd spool, the answer) from 64 concurrent clients, with the inserts
// held back (no batcher). It reports the process's CPU per report
// (cpu-µs/report) and so reports per second per core (reports/s/core);
// run it with -cpu 1 to see one core. The network's share (about 16 µs a
// request for an empty gin handler, docs/benchmarks.md) is not in it.
// docs/scaling.md derives the collectors a load needs from it.
func BenchmarkCollectorCapacity(b *testing.B) {
	e := apptest.New(b, apptest.Options{LogLevel: logrus.InfoLevel, Ingest: collector.Config{DedupWindow: 1_000_000}, SpoolBytes: 8 << 30})
	h := e.Handler()
	var seq atomic.Int64
	b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
	b.ReportAllocs()
	c0 := processCPU(b)
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			body := testutil.Report(fmt.Sprintf("cap-%d", seq.Add(1)))
			req := httptest.NewRequest(http.MethodPost, "http://localhost/api/v1/runs", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusAccepted {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
		}
	})
	cpu, wall := processCPU(b)-c0, time.Since(start)
	perReport := float64(cpu.Microseconds()) / float64(b.N)
	b.ReportMetric(perReport, "cpu-µs/report")
	b.ReportMetric(1e6/perReport, "reports/s/core")
	b.ReportMetric(float64(b.N)/wall.Seconds(), "reports/s")
}

// processCPU returns the user and system CPU time of the process so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
