package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// runReport prints the Markdown summary of one benchmark run from the
// results in a directory: <scenario>.json from `run`, verify-*.json from
// `verify`, and the engine's raw insert rate and the load average, which
// the script measures.
func runReport(args []string) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	dir := fs.String("dir", "", "directory of the run's results")
	raw := fs.Float64("raw-rows-per-s", 0, "the engine's raw insert rate measured in the same run")
	store := fs.Float64("store-rows-per-s", 0, "the store's InsertReports rate measured in the same run")
	load := fs.String("loadavg", "", "load average when the measurements started")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		return errors.New("report needs --dir")
	}
	results := map[string]*Result{}
	var verifies []Verification
	files, _ := filepath.Glob(filepath.Join(*dir, "*.json"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		base := strings.TrimSuffix(filepath.Base(f), ".json")
		if strings.HasPrefix(base, "verify-") {
			var v Verification
			if err := json.Unmarshal(b, &v); err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
			verifies = append(verifies, v)
			continue
		}
		var r Result
		if err := json.Unmarshal(b, &r); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		results[base] = &r
	}
	writeReport(os.Stdout, results, verifies, *raw, *store, *load)
	return nil
}

func ratio(a, b float64) string {
	if a == 0 || b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", a/b)
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

func writeReport(w io.Writer, res map[string]*Result, verifies []Verification, raw, store float64, load string) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	if load != "" {
		p("Load average (1, 5, 15 min) when the measurements started: %s\n\n", load)
	}
	p("| scenario | conns | requests/s | reports/s | p50 ms | p99 ms | p99.9 ms | server CPU µs/report | server cores | generator cores | answers |\n")
	p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	names := make([]string, 0, len(res))
	for n := range res {
		names = append(names, n)
	}
	order := map[string]int{"empty-gin": 1, "pushgateway": 2, "single": 3, "ndjson": 4, "overload": 5, "overload-limited": 6}
	sort.Slice(names, func(i, j int) bool {
		oi, oj := order[names[i]], order[names[j]]
		if oi != oj {
			return oi < oj
		}
		return names[i] < names[j]
	})
	for _, n := range names {
		r := res[n]
		cpu, srvCores, genCores := "–", "–", "–"
		if c := r.CPU; c != nil && r.Elapsed > 0 {
			cpu = fmt.Sprintf("%.1f", c.ServerPerReportUS)
			srvCores = fmt.Sprintf("%.2f", c.ServerSeconds/r.Elapsed)
			genCores = fmt.Sprintf("%.2f", c.GeneratorSeconds/r.Elapsed)
		}
		p("| %s | %d | %.0f | %.0f | %.2f | %.2f | %.2f | %s | %s | %s | %s |\n", r.Name, r.Connections, r.RequestsPerSec, r.ReportsPerSec,
			r.Latency.P50, r.Latency.P99, r.Latency.P999, cpu, srvCores, genCores, answers(r))
	}
	p("\n")
	empty, push, single, nd := res["empty-gin"], res["pushgateway"], res["single"], res["ndjson"]
	if single != nil {
		p("**Single reports, durable acks, %d connections:** %.0f reports/s, p50 %.2f ms, p99 %.2f ms.\n", single.Connections, single.ReportsPerSec, single.Latency.P50, single.Latency.P99)
		if empty != nil {
			p("- vs the empty gin handler (%.0f requests/s, p99 %.2f ms): **%s×** (target ≥ 0.5: %s)\n", empty.RequestsPerSec, empty.Latency.P99,
				ratio(single.ReportsPerSec, empty.RequestsPerSec), verdict(empty.RequestsPerSec > 0 && single.ReportsPerSec >= 0.5*empty.RequestsPerSec))
		}
		if push != nil {
			p("- vs Prometheus Pushgateway (%.0f pushes/s, p99 %.2f ms): **%s×**\n", push.RequestsPerSec, push.Latency.P99, ratio(single.ReportsPerSec, push.RequestsPerSec))
		}
		p("- target ≥ 25,000 reports/s: %s; p99 ≤ 15 ms: %s\n\n", verdict(single.ReportsPerSec >= 25000), verdict(single.Latency.P99 <= 15 && single.Latency.N > 0))
	}
	if nd != nil {
		p("**NDJSON batches of %d, %d connections:** accepted (fsync'd) %.0f reports/s", nd.Batch, nd.Connections, nd.ReportsPerSec)
		if nd.Drain != nil {
			p("; end-to-end into ClickHouse %.0f reports/s (%d reports from the first request to the last row stored in %.1f s, drained: %v, spool peak %.1f MiB)",
				nd.Drain.ReportsPerSec, nd.ReportsAckedAll, nd.Drain.Seconds, nd.Drain.Drained, float64(nd.Drain.SpoolPeakBytes)/(1<<20))
		}
		p(".\n")
		if raw > 0 {
			p("- the engine's raw insert rate in the same run (INSERT … FORMAT JSONEachRow of 10,000 pre-encoded rows, merges stopped): %.0f rows/s", raw)
			if store > 0 {
				p("; the store's InsertReports (encoding included): %.0f rows/s", store)
			}
			p("\n")
			if nd.Drain != nil {
				p("- end-to-end vs raw insert: **%s×** (target ≥ 0.6: %s)\n", ratio(nd.Drain.ReportsPerSec, raw), verdict(nd.Drain.ReportsPerSec >= 0.6*raw))
			}
		}
		if nd.Drain != nil {
			p("- target ≥ 150,000 reports/s end-to-end: %s\n", verdict(nd.Drain.ReportsPerSec >= 150000))
		}
		p("\n")
	}
	for _, name := range []string{"overload", "overload-limited"} {
		over := res[name]
		if over == nil {
			continue
		}
		p("**%s, open loop at %.0f requests/s for %.0f s (%d connections):** offered %d, not sent because every connection was waiting %d; answers %s, transport errors %d; acknowledged %.0f reports/s, p99 of acknowledged %.2f ms (from the scheduled send time).\n",
			name, over.TargetRate, over.Elapsed, over.Connections, over.Offered, over.Missed, answers(over), over.Errors, over.ReportsPerSec, over.Latency.P99)
		if m := over.Memory; m != nil {
			p("- syncwatch memory: RSS %.0f MiB at the start, peak %.0f MiB, %.0f MiB at the end; VmHWM %.0f MiB\n", m.StartRSSMiB, m.PeakRSSMiB, m.EndRSSMiB, m.HWMMiB)
		}
		if d := over.Drain; d != nil {
			p("- spool peak %.1f of %.1f MiB; drained %v %.1f s after the first request\n", float64(d.SpoolPeakBytes)/(1<<20), float64(d.SpoolMaxBytes)/(1<<20), d.Drained, d.Seconds)
		}
		p("\n")
	}
	if len(verifies) > 0 {
		p("**Loss check** (every acknowledged event_id against the reports table, after stopping the server):\n")
		for _, v := range verifies {
			p("- %s: acknowledged %d, missing %d, rows %d (distinct event_ids %d, after FINAL %d), duplicates %d, stored without an acknowledgement %d: %s\n",
				filepath.Base(v.DataDir), v.Acked, v.Missing, v.Rows, v.StoredUnique, v.RowsFinal, v.Duplicates, v.Unacked, map[bool]string{true: "OK", false: "**FAILED**"}[v.OK])
		}
	}
}

func answers(r *Result) string {
	codes := make([]string, 0, len(r.Status))
	for c := range r.Status {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	var parts []string
	for _, c := range codes {
		parts = append(parts, fmt.Sprintf("%s×%d", c, r.Status[c]))
	}
	if r.Errors > 0 {
		parts = append(parts, fmt.Sprintf("errors×%d", r.Errors))
	}
	if r.Missed > 0 {
		parts = append(parts, fmt.Sprintf("not sent×%d", r.Missed))
	}
	return strings.Join(parts, " ")
}
