package e2e

import (
	"bytes"
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/syncwatch/syncwatch/collector"
	"github.com/syncwatch/syncwatch/internal/apptest"
	"github.com/syncwatch/syncwatch/internal/apptest/contract"
	"github.com/syncwatch/syncwatch/internal/testutil"
	"github.com/syncwatch/syncwatch/runs"
	"github.com/syncwatch/syncwatch/web"
	"github.com/syncwatch/syncwatch/web/api"

	"github.com/syncwatch/syncwatch/clickhouse"
	"github.com/syncwatch/syncwatch/synclog"
)

// The query API tests generate runs in Go, ingest them through the HTTP
// API into the real store on the embedded engine, and compare every
// endpoint's answer with figures computed here from the generated runs.
// Every call is checked against openapi.yaml.

// Lifecycles of a generated run: the reports it sends, in order.
const (
	qaTerminal        = iota // one terminal report
	qaProcessingFirst        // processing, then the end
	qaStaleProcessing        // the end, then a late processing report
	qaInProgress             // one processing report
	qaPendingThenProc        // pending, then processing
	qaLifecycles
)

// qaRun is a generated run and its expected latest state.
type qaRun struct {
	id, source, syncType string
	lifecycle            int
	start                time.Time
	status               synclog.Status
	message              string
	total, ok, failed    uint64
	completed            *time.Time
	attrs                map[string]string
	// omitStart leaves started_at out of the terminal report.
	omitStart bool
	// direct runs are inserted into the store directly, twice.
	direct bool
	// reports are the statuses of its distinct reports in arrival order.
	reports []synclog.Status
}

func (r *qaRun) terminal() bool { return r.status.Terminal() }

// durationMS is the expected duration, from the first report's start.
func (r *qaRun) durationMS() *int64 {
	if r.completed == nil {
		return nil
	}
	ms := r.completed.Sub(r.start).Milliseconds()
	return &ms
}

// qaData is the generated dataset.
type qaData struct {
	now  time.Time
	runs []*qaRun
	byID map[string]*qaRun
}

var qaSources = []string{"haier", "midea", "gree"}

// qaFailures are the messages of failed and partial runs: some with
// numbers that vary (one error group each), some that a spreadsheet
// would read as formulas, some with CSV's special characters.
var qaFailures = []string{
	"connection timeout after %d ms",
	"HTTP 503 from supplier api (request %d)",
	"=HYPERLINK(\"http://example.com\",\"click %d\")",
	"+SUM(A1:A%d)",
	"-%d items rejected",
	"@import of batch %d failed",
	"库存同步失败：超时 %d 秒",
	"100%% of rows failed in file %d",
	"price_list, \"quoted\"\nsecond line %d",
}

var qaTypicalSeconds = map[string]int{"products": 120, "prices": 30, "stock": 10, "order": 2, "logistics": 5, "manual": 60}

// generateQA builds n runs over the nine days before now, plus direct
// runs. No run starts within half an hour of now minus 24 hours, so that
// the dashboard's window is the same for the test and the server.
func generateQA(seed uint64, n int, now time.Time) *qaData {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	d := &qaData{now: now, byID: map[string]*qaRun{}}
	edge := now.Add(-24 * time.Hour)
	sharedStart := now.Add(-30 * time.Hour).Truncate(time.Second)
	for i := range n {
		r := &qaRun{
			id:       fmt.Sprintf("qa-%04d-%s", i, strconv.FormatUint(rng.Uint64()%1000, 36)),
			source:   qaSources[rng.IntN(len(qaSources))],
			syncType: synclog.DefaultSyncTypes[rng.IntN(len(synclog.DefaultSyncTypes))],
		}
		for {
			r.start = now.Add(-time.Duration(rng.Int64N(int64(9 * 24 * time.Hour)))).Truncate(time.Millisecond)
			if r.start.Sub(edge).Abs() > 30*time.Minute && now.Sub(r.start) > 2*time.Hour {
				break
			}
		}
		if i < 6 {
			// Runs that start at the same instant, ordered by run id.
			r.start = sharedStart
		}
		switch p := rng.IntN(100); {
		case i < 6 || p < 58:
			r.status = synclog.StatusSuccess
		case p < 78:
			r.status = synclog.StatusFailed
		case p < 90:
			r.status = synclog.StatusPartial
		case p < 95:
			r.status = synclog.StatusProcessing
		default:
			r.status = synclog.StatusPending
		}
		if r.terminal() {
			r.lifecycle = []int{qaTerminal, qaProcessingFirst, qaStaleProcessing}[rng.IntN(3)]
			r.omitStart = r.lifecycle == qaProcessingFirst && rng.IntN(3) == 0
			base := qaTypicalSeconds[r.syncType] * 1000
			dur := time.Duration(base/2+rng.IntN(base)) * time.Millisecond
			c := r.start.Add(dur)
			r.completed = &c
			r.total = uint64(rng.IntN(500))
			switch r.status {
			case synclog.StatusSuccess:
				r.ok = r.total
				if rng.IntN(2) == 0 {
					r.message = fmt.Sprintf("synced %d items", r.total)
				}
			case synclog.StatusFailed:
				r.failed = r.total
				r.message = fmt.Sprintf(qaFailures[rng.IntN(len(qaFailures))], rng.IntN(100000))
			default:
				r.failed = r.total / 3
				r.ok = r.total - r.failed
				r.message = fmt.Sprintf(qaFailures[rng.IntN(len(qaFailures))], rng.IntN(100000))
			}
		} else {
			r.lifecycle = qaInProgress
			if r.status == synclog.StatusProcessing && rng.IntN(2) == 0 {
				r.lifecycle = qaPendingThenProc
			}
			r.message = "working"
		}
		if rng.IntN(3) == 0 {
			r.attrs = map[string]string{"host": fmt.Sprintf("worker-%d", rng.IntN(4)), "trigger": "cron"}
		}
		switch r.lifecycle {
		case qaTerminal:
			r.reports = []synclog.Status{r.status}
		case qaProcessingFirst:
			r.reports = []synclog.Status{synclog.StatusProcessing, r.status}
		case qaStaleProcessing:
			r.reports = []synclog.Status{r.status, synclog.StatusProcessing}
		case qaInProgress:
			r.reports = []synclog.Status{r.status}
		case qaPendingThenProc:
			r.reports = []synclog.Status{synclog.StatusPending, synclog.StatusProcessing}
		}
		if synclog.Redact(r.message) != r.message {
			panic("a generated message is changed by redaction: " + r.message)
		}
		r.direct = i%25 == 7 && r.terminal()
		if r.direct {
			r.lifecycle, r.reports, r.omitStart = qaProcessingFirst, []synclog.Status{synclog.StatusProcessing, r.status}, false
		}
		d.runs = append(d.runs, r)
		d.byID[r.id] = r
	}
	return d
}

// wire renders the report of r with the given status as the ingest API
// takes it.
func (r *qaRun) wire(st synclog.Status, n int) map[string]any {
	m := map[string]any{
		"run_id": r.id, "event_id": fmt.Sprintf("%s-e%d", r.id, n), "source": r.source, "sync_type": r.syncType,
		"status": string(st), "started_at": r.start.Format(time.RFC3339Nano),
	}
	if st.Terminal() {
		m["message"] = r.message
		m["total_count"], m["success_count"], m["failed_count"] = r.total, r.ok, r.failed
		m["completed_at"] = r.completed.Format(time.RFC3339Nano)
		if r.omitStart {
			delete(m, "started_at")
		}
	} else if st == r.status {
		m["message"] = r.message
	} else {
		m["message"] = "started"
	}
	if r.attrs != nil && st == r.status {
		m["attributes"] = r.attrs
	}
	return m
}

// report builds the stored form of one report for a direct insert.
func (r *qaRun) report(st synclog.Status, n int, received time.Time) synclog.Report {
	rep := synclog.Report{RunID: r.id, EventID: fmt.Sprintf("%s-e%d", r.id, n), Source: r.source, SyncType: r.syncType,
		Status: st, StartedAt: r.start, Message: "started"}
	if st.Terminal() {
		rep.Message, rep.TotalCount, rep.SuccessCount, rep.FailedCount = r.message, r.total, r.ok, r.failed
		c := *r.completed
		rep.CompletedAt = &c
		rep.Attributes = r.attrs
	}
	rep.Normalize(received)
	return rep
}

// ingestQA sends the dataset through the ingest API (and the direct runs
// straight to the store, each batch twice) and waits until the batcher has
// moved everything into ClickHouse.
func ingestQA(t *testing.T, env *apptest.Env, st *clickhouse.Store, d *qaData) {
	t.Helper()
	h := env.Handler()
	post := func(items []map[string]any) collector.IngestResponse {
		body, _ := json.Marshal(items)
		w := contract.Call(t, h, http.MethodPost, "/api/v1/runs", contract.Options{Header: http.Header{"Content-Type": {"application/json"}}, Body: body})
		if w.Code != http.StatusAccepted {
			t.Fatalf("ingest: %d %s", w.Code, w.Body.String())
		}
		return testutil.Decode[collector.IngestResponse](t, w)
	}
	for phase := 0; phase < 2; phase++ {
		var items []map[string]any
		for _, r := range d.runs {
			if !r.direct && phase < len(r.reports) {
				items = append(items, r.wire(r.reports[phase], phase))
			}
		}
		for len(items) > 0 {
			n := min(len(items), 80)
			resp := post(items[:n])
			if resp.Accepted != n || len(resp.Rejected) > 0 {
				t.Fatalf("ingest phase %d: %+v", phase, resp)
			}
			if phase == 0 {
				// A retried delivery of the same request.
				if again := post(items[:n]); again.Duplicates != n || again.Accepted != 0 {
					t.Fatalf("retried delivery: %d duplicates, %d accepted; want %d duplicates", again.Duplicates, again.Accepted, n)
				}
			}
			items = items[n:]
		}
	}
	var direct [2][]synclog.Report
	received := time.Now().UTC().Add(-time.Minute)
	for _, r := range d.runs {
		if r.direct {
			for i, s := range r.reports {
				direct[i] = append(direct[i], r.report(s, i, received.Add(time.Duration(i)*time.Millisecond)))
			}
		}
	}
	for _, b := range direct {
		for range 2 {
			if err := st.InsertReports(context.Background(), b); err != nil {
				t.Fatal(err)
			}
		}
	}
	testutil.WaitFor(t, 2*time.Minute, "the batcher to drain the spool", func() bool {
		return env.Spool.Stats().Reports == 0 && env.Batcher.Status().Failures == 0
	})
}

// qaEnv is the read-only dataset of the query tests: one store and one
// server, loaded once for all of them.
type qaEnv struct {
	env  *apptest.Env
	data *qaData
}

// TestQueryAPI loads the dataset once and checks each endpoint against
// it in a subtest; none of them writes.
func TestQueryAPI(t *testing.T) {
	st := apptest.NewRealStore(t)
	env := apptest.New(t, apptest.Options{Storage: st, RunBatcher: true, Batcher: collector.BatcherConfig{MaxAge: 20 * time.Millisecond}, Query: st})
	d := generateQA(42, 360, time.Now().UTC().Truncate(time.Millisecond))
	ingestQA(t, env, st, d)
	q := &qaEnv{env: env, data: d}
	for _, c := range []struct {
		name string
		test func(*testing.T, *qaEnv)
	}{
		{"runs", testQueryRuns},
		{"runs csv", testQueryRunsCSV},
		{"run", testQueryRun},
		{"stats", testQueryStats},
		{"daily report", testQueryDailyReport},
		{"error report", testQueryErrorReport},
		{"trend report", testQueryTrendReport},
		{"dashboard", testQueryDashboard},
		{"sql injection", testQuerySQLInjection},
	} {
		t.Run(c.name, func(t *testing.T) { c.test(t, q) })
	}
}

// get calls the API and fails unless the answer has the wanted status.
func (q *qaEnv) get(t *testing.T, target string, want int, hdr ...string) []byte {
	t.Helper()
	h := http.Header{}
	for i := 0; i+1 < len(hdr); i += 2 {
		h.Set(hdr[i], hdr[i+1])
	}
	w := contract.Call(t, q.env.Handler(), http.MethodGet, target, contract.Options{Header: h})
	if w.Code != want {
		t.Fatalf("GET %s: %d, want %d: %s", target, w.Code, want, w.Body.String())
	}
	return w.Body.Bytes()
}

func qaDecode[T any](t *testing.T, body []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("not the expected JSON: %v: %.300s", err, body)
	}
	return v
}

// qaFilter is a filter as the tests apply it to generated runs.
type qaFilter struct {
	sources, types []string
	statuses       []synclog.Status
	since, until   time.Time
	q              string
}

func (f qaFilter) match(r *qaRun) bool {
	return (len(f.sources) == 0 || slices.Contains(f.sources, r.source)) &&
		(len(f.types) == 0 || slices.Contains(f.types, r.syncType)) &&
		(len(f.statuses) == 0 || slices.Contains(f.statuses, r.status)) &&
		(f.since.IsZero() || !r.start.Before(f.since)) &&
		(f.until.IsZero() || r.start.Before(f.until)) &&
		(strings.TrimSpace(f.q) == "" || strings.Contains(strings.ToLower(r.message), strings.ToLower(strings.TrimSpace(f.q))))
}

// list returns the runs f selects, newest first.
func (d *qaData) list(f qaFilter) []*qaRun {
	var out []*qaRun
	for _, r := range d.runs {
		if f.match(r) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b *qaRun) int {
		if c := b.start.Compare(a.start); c != 0 {
			return c
		}
		return cmp.Compare(b.id, a.id)
	})
	return out
}

// checkRun compares a run of an answer with the generated one.
func checkRun(t *testing.T, got runs.Run, want *qaRun) {
	t.Helper()
	var diffs []string
	if got.RunID != want.id || got.Source != want.source || got.SyncType != want.syncType || got.Status != want.status {
		diffs = append(diffs, fmt.Sprintf("run %s/%s/%s/%s, want %s/%s/%s/%s", got.RunID, got.Source, got.SyncType, got.Status, want.id, want.source, want.syncType, want.status))
	}
	if got.Message != want.message {
		diffs = append(diffs, fmt.Sprintf("message %q, want %q", got.Message, want.message))
	}
	if got.TotalCount != want.total || got.SuccessCount != want.ok || got.FailedCount != want.failed {
		diffs = append(diffs, fmt.Sprintf("counts %d/%d/%d, want %d/%d/%d", got.TotalCount, got.SuccessCount, got.FailedCount, want.total, want.ok, want.failed))
	}
	if !got.StartedAt.Equal(want.start) {
		diffs = append(diffs, fmt.Sprintf("started_at %s, want %s", got.StartedAt, want.start))
	}
	if (got.CompletedAt == nil) != (want.completed == nil) || got.CompletedAt != nil && !got.CompletedAt.Equal(*want.completed) {
		diffs = append(diffs, fmt.Sprintf("completed_at %v, want %v", got.CompletedAt, want.completed))
	}
	wd := want.durationMS()
	if (got.DurationMS == nil) != (wd == nil) || wd != nil && *got.DurationMS != *wd {
		diffs = append(diffs, fmt.Sprintf("duration_ms %v, want %v", fmtPtr(got.DurationMS), fmtPtr(wd)))
	}
	wantAttrs := want.attrs
	if wantAttrs == nil {
		wantAttrs = map[string]string{}
	}
	if fmt.Sprint(got.Attributes) != fmt.Sprint(wantAttrs) {
		diffs = append(diffs, fmt.Sprintf("attributes %v, want %v", got.Attributes, wantAttrs))
	}
	if want := runs.Fingerprint(synclog.Fingerprint(want.message)); got.Fingerprint != want {
		diffs = append(diffs, fmt.Sprintf("fingerprint %s, want %s", got.Fingerprint, want))
	}
	if len(diffs) > 0 {
		t.Errorf("run %s: %s", want.id, strings.Join(diffs, "; "))
	}
}

func fmtPtr[T any](p *T) any {
	if p == nil {
		return "nil"
	}
	return *p
}

func ids(list []*qaRun) []string {
	out := make([]string, len(list))
	for i, r := range list {
		out[i] = r.id
	}
	return out
}

// listPages walks every page of target with the given page size and
// returns the runs in order.
func (q *qaEnv) listPages(t *testing.T, target string, limit int) []runs.Run {
	t.Helper()
	var all []runs.Run
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("too many pages")
		}
		u := fmt.Sprintf("%s&limit=%d", target, limit)
		if cursor != "" {
			u += "&cursor=" + url.QueryEscape(cursor)
		}
		page := qaDecode[api.RunsPage](t, q.get(t, u, http.StatusOK))
		if len(page.Runs) > limit {
			t.Fatalf("page of %d runs, limit %d", len(page.Runs), limit)
		}
		for _, r := range page.Runs {
			all = append(all, r.Run)
		}
		if page.NextCursor == nil {
			return all
		}
		if len(page.Runs) != limit {
			t.Fatalf("a page of %d runs before the last, limit %d", len(page.Runs), limit)
		}
		cursor = *page.NextCursor
	}
}

func rfc(t time.Time) string { return url.QueryEscape(t.UTC().Format(time.RFC3339Nano)) }

func testQueryRuns(t *testing.T, q *qaEnv) {
	d := q.data
	mid := d.now.Add(-100 * time.Hour)
	lo, hi := d.runs[10].start, d.runs[20].start
	if hi.Before(lo) {
		lo, hi = hi, lo
	}
	cases := []struct {
		name   string
		params string
		f      qaFilter
	}{
		{"everything", "", qaFilter{}},
		{"one sync type", "sync_type=products", qaFilter{types: []string{"products"}}},
		{"sync types repeated and comma-separated", "sync_type=products,prices&sync_type=stock", qaFilter{types: []string{"products", "prices", "stock"}}},
		{"case and spaces", "sync_type=%20Prices%20&status=FAILED", qaFilter{types: []string{"prices"}, statuses: []synclog.Status{synclog.StatusFailed}}},
		{"statuses", "status=failed,partial", qaFilter{statuses: []synclog.Status{synclog.StatusFailed, synclog.StatusPartial}}},
		{"in progress", "status=pending&status=processing", qaFilter{statuses: []synclog.Status{synclog.StatusPending, synclog.StatusProcessing}}},
		{"source", "source=haier&source=gree", qaFilter{sources: []string{"haier", "gree"}}},
		{"since", "since=" + rfc(mid), qaFilter{since: mid}},
		{"until", "until=" + rfc(mid), qaFilter{until: mid}},
		{"since and until", "since=" + rfc(mid.Add(-48*time.Hour)) + "&until=" + rfc(mid), qaFilter{since: mid.Add(-48 * time.Hour), until: mid}},
		{"bounds at a run's start", "since=" + rfc(lo) + "&until=" + rfc(hi.Add(time.Millisecond)),
			qaFilter{since: lo, until: hi.Add(time.Millisecond)}},
		{"dates", "since=" + d.now.AddDate(0, 0, -3).Format(time.DateOnly) + "&until=" + d.now.AddDate(0, 0, -2).Format(time.DateOnly),
			qaFilter{since: d.now.AddDate(0, 0, -3).Truncate(24 * time.Hour), until: d.now.AddDate(0, 0, -1).Truncate(24 * time.Hour)}},
		{"message search", "q=TIMEOUT", qaFilter{q: "timeout"}},
		{"message search with a percent sign", "q=" + url.QueryEscape("100%"), qaFilter{q: "100%"}},
		{"message search with an underscore", "q=" + url.QueryEscape("price_list"), qaFilter{q: "price_list"}},
		{"message search in Chinese", "q=" + url.QueryEscape("同步失败"), qaFilter{q: "同步失败"}},
		{"combined", "sync_type=products,order&status=success&source=midea&since=" + rfc(d.now.Add(-200*time.Hour)),
			qaFilter{types: []string{"products", "order"}, statuses: []synclog.Status{synclog.StatusSuccess}, sources: []string{"midea"}, since: d.now.Add(-200 * time.Hour)}},
		{"nothing matches", "q=no-such-message", qaFilter{q: "no-such-message"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := d.list(c.f)
			for _, base := range []string{"/api/v1/runs?", "/api/monitor/records/?", "/api/monitor/records?"} {
				page := qaDecode[api.RunsPage](t, q.get(t, base+c.params+"&limit=1000", http.StatusOK))
				got := make([]string, len(page.Runs))
				for i, r := range page.Runs {
					got[i] = r.RunID
				}
				if !slices.Equal(got, ids(want)) {
					t.Fatalf("%s: %d runs %v\nwant %d %v", base, len(got), head(got), len(want), head(ids(want)))
				}
				if page.NextCursor != nil {
					t.Errorf("%s: a next cursor after all runs", base)
				}
				for i := range want {
					checkRun(t, page.Runs[i].Run, want[i])
				}
			}
			// Small pages give the same runs.
			paged := q.listPages(t, "/api/v1/runs?"+c.params, 7)
			got := make([]string, len(paged))
			for i, r := range paged {
				got[i] = r.RunID
			}
			if !slices.Equal(got, ids(want)) {
				t.Errorf("paged: %d runs, want %d", len(got), len(want))
			}
		})
	}
	t.Run("default page size", func(t *testing.T) {
		page := qaDecode[api.RunsPage](t, q.get(t, "/api/v1/runs", http.StatusOK))
		if len(page.Runs) != api.DefaultPageSize || page.NextCursor == nil {
			t.Errorf("%d runs, cursor %v; want %d and a cursor", len(page.Runs), page.NextCursor, api.DefaultPageSize)
		}
	})
}

func head(s []string) []string { return s[:min(len(s), 8)] }

func testQueryRunsCSV(t *testing.T, q *qaEnv) {
	want := q.data.list(qaFilter{statuses: []synclog.Status{synclog.StatusFailed, synclog.StatusPartial}})
	for _, c := range []struct {
		name, target string
		hdr          []string
	}{
		{"format parameter", "/api/v1/runs?status=failed,partial&limit=1000&format=csv", nil},
		{"accept header", "/api/v1/runs?status=failed,partial&limit=1000", []string{"Accept", "text/csv"}},
		{"accept with quality", "/api/v1/runs?status=failed,partial&limit=1000", []string{"Accept", "application/json;q=0.5, text/csv"}},
		{"monitor records", "/api/monitor/records/?status=failed,partial&limit=1000&format=csv", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := http.Header{}
			if c.hdr != nil {
				h.Set(c.hdr[0], c.hdr[1])
			}
			w := contract.Call(t, q.env.Handler(), http.MethodGet, c.target, contract.Options{Header: h})
			if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/csv") {
				t.Fatalf("%d %s", w.Code, w.Header().Get("Content-Type"))
			}
			recs, err := csv.NewReader(bytes.NewReader(w.Body.Bytes())).ReadAll()
			if err != nil {
				t.Fatalf("not RFC 4180 CSV: %v", err)
			}
			if !slices.Equal(recs[0], api.RunCSVHeader) {
				t.Fatalf("header %v", recs[0])
			}
			if len(recs)-1 != len(want) {
				t.Fatalf("%d rows, want %d", len(recs)-1, len(want))
			}
			formulas := 0
			for i, rec := range recs[1:] {
				r := want[i]
				msg := r.message
				if strings.ContainsAny(msg[:1], "=+-@") {
					msg = "'" + msg
					formulas++
				}
				wantRec := []string{r.id, fmt.Sprintf("%s-e%d", r.id, slices.Index(r.reports, r.status)), r.source, r.syncType, string(r.status), msg,
					runs.Fingerprint(synclog.Fingerprint(r.message)).String(), strconv.FormatUint(r.total, 10), strconv.FormatUint(r.ok, 10),
					strconv.FormatUint(r.failed, 10), r.start.Format(time.RFC3339Nano), r.completed.Format(time.RFC3339Nano),
					strconv.FormatInt(*r.durationMS(), 10)}
				if !slices.Equal(rec[:13], wantRec) {
					t.Errorf("row %d:\n got %q\nwant %q", i, rec[:13], wantRec)
				}
				attrs, wantAttrs := map[string]string{}, map[string]string{}
				maps.Copy(wantAttrs, r.attrs)
				if err := json.Unmarshal([]byte(rec[14]), &attrs); err != nil || !maps.Equal(attrs, wantAttrs) {
					t.Errorf("row %d attributes %q, want %v", i, rec[14], r.attrs)
				}
				for j, cell := range rec {
					if cell != "" && strings.ContainsRune("=+-@", rune(cell[0])) {
						t.Errorf("row %d cell %d starts a formula: %q", i, j, cell)
					}
				}
			}
			if formulas == 0 {
				t.Error("the dataset has no formula-like message to neutralise")
			}
		})
	}
	t.Run("paged csv", func(t *testing.T) {
		w := contract.Call(t, q.env.Handler(), http.MethodGet, "/api/v1/runs?limit=5&format=csv", contract.Options{})
		cur := w.Header().Get("X-Next-Cursor")
		if cur == "" {
			t.Fatal("no X-Next-Cursor on a page before the last")
		}
		recs, _ := csv.NewReader(bytes.NewReader(w.Body.Bytes())).ReadAll()
		next := contract.Call(t, q.env.Handler(), http.MethodGet, "/api/v1/runs?limit=5&format=csv&cursor="+cur, contract.Options{})
		recs2, _ := csv.NewReader(bytes.NewReader(next.Body.Bytes())).ReadAll()
		all := ids(q.data.list(qaFilter{}))
		var got []string
		for _, r := range append(recs[1:], recs2[1:]...) {
			got = append(got, r[0])
		}
		if !slices.Equal(got, all[:10]) {
			t.Errorf("two csv pages %v, want %v", got, all[:10])
		}
	})
}

func testQueryRun(t *testing.T, q *qaEnv) {
	checked := map[int]bool{}
	for _, r := range q.data.runs {
		key := r.lifecycle*10 + btoi(r.direct)
		if checked[key] && !r.omitStart {
			continue
		}
		checked[key] = true
		t.Run(r.id, func(t *testing.T) {
			got := qaDecode[api.RunDetailResponse](t, q.get(t, "/api/v1/runs/"+r.id, http.StatusOK))
			checkRun(t, got.Run.Run, r)
			if wd := r.durationMS(); (got.DurationSeconds == nil) != (wd == nil) || wd != nil && math.Abs(*got.DurationSeconds-float64(*wd)/1000) > 1e-9 {
				t.Errorf("duration_seconds %v, want %v ms", fmtPtr(got.DurationSeconds), fmtPtr(wd))
			}
			var statuses []synclog.Status
			for i, rep := range got.Reports {
				statuses = append(statuses, rep.Status)
				if want := fmt.Sprintf("%s-e%d", r.id, i); rep.EventID != want {
					t.Errorf("report %d is %s, want %s", i, rep.EventID, want)
				}
			}
			if !slices.Equal(statuses, r.reports) {
				t.Errorf("timeline %v, want %v", statuses, r.reports)
			}
		})
	}
	t.Run("unknown run", func(t *testing.T) {
		e := qaDecode[web.ErrorResponse](t, q.get(t, "/api/v1/runs/no-such-run", http.StatusNotFound))
		if e.Field != "run_id" {
			t.Errorf("field %q", e.Field)
		}
	})
	t.Run("malformed run id", func(t *testing.T) {
		w := contract.Call(t, q.env.Handler(), http.MethodGet, "/api/v1/runs/"+url.PathEscape("a b'c"), contract.Options{InvalidRequest: true})
		if w.Code != http.StatusBadRequest || testutil.Decode[web.ErrorResponse](t, w).Field != "run_id" {
			t.Errorf("%d %s", w.Code, w.Body.String())
		}
	})
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// quantile is the quantile of sorted values with linear interpolation
// between the closest ranks, as ClickHouse computes it below 8,192 values.
func quantile(sorted []float64, level float64) float64 {
	h := level * float64(len(sorted)-1)
	lo := math.Floor(h)
	i := int(lo)
	if i+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	return sorted[i] + (h-lo)*(sorted[i+1]-sorted[i])
}

// expectStats computes the statistics of runs over a range of hours.
func expectStats(list []*qaRun, hours float64) runs.Stats {
	var s runs.Stats
	var durs []float64
	for _, r := range list {
		s.Runs++
		switch r.status {
		case synclog.StatusPending:
			s.Pending++
		case synclog.StatusProcessing:
			s.Processing++
		case synclog.StatusSuccess:
			s.Success++
		case synclog.StatusFailed:
			s.Failed++
		case synclog.StatusPartial:
			s.Partial++
		}
		if r.terminal() {
			s.RecordsTotal += r.total
			s.RecordsSuccess += r.ok
			s.RecordsFailed += r.failed
			durs = append(durs, float64(*r.durationMS())/1000)
		}
	}
	if t := s.Success + s.Failed + s.Partial; t > 0 {
		v := float64(s.Success) / float64(t)
		s.SuccessRatio = &v
		sort.Float64s(durs)
		sum := 0.0
		for _, x := range durs {
			sum += x
		}
		avg, p50, p95, p99, mx := sum/float64(len(durs)), quantile(durs, .5), quantile(durs, .95), quantile(durs, .99), durs[len(durs)-1]
		s.DurationAvg, s.DurationP50, s.DurationP95, s.DurationP99, s.DurationMax = &avg, &p50, &p95, &p99, &mx
	}
	if s.RecordsTotal > 0 {
		v := float64(s.RecordsSuccess) / float64(s.RecordsTotal)
		s.RecordSuccessRatio = &v
	}
	s.FailedPerHour = float64(s.Failed) / hours
	return s
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func nearPtr(a, b *float64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return near(*a, *b)
}

// diffStats compares statistics figure by figure.
func diffStats(got, want runs.Stats) string {
	var d []string
	counts := func(s runs.Stats) []uint64 {
		return []uint64{s.Runs, s.Pending, s.Processing, s.Success, s.Failed, s.Partial, s.RecordsTotal, s.RecordsSuccess, s.RecordsFailed}
	}
	if !slices.Equal(counts(got), counts(want)) {
		d = append(d, fmt.Sprintf("counts %v, want %v", counts(got), counts(want)))
	}
	for _, c := range []struct {
		name      string
		got, want *float64
	}{
		{"success_ratio", got.SuccessRatio, want.SuccessRatio}, {"record_success_ratio", got.RecordSuccessRatio, want.RecordSuccessRatio},
		{"avg", got.DurationAvg, want.DurationAvg}, {"p50", got.DurationP50, want.DurationP50}, {"p95", got.DurationP95, want.DurationP95},
		{"p99", got.DurationP99, want.DurationP99}, {"max", got.DurationMax, want.DurationMax},
	} {
		if !nearPtr(c.got, c.want) {
			d = append(d, fmt.Sprintf("%s %v, want %v", c.name, fmtPtr(c.got), fmtPtr(c.want)))
		}
	}
	if !near(got.FailedPerHour, want.FailedPerHour) {
		d = append(d, fmt.Sprintf("failed_per_hour %v, want %v", got.FailedPerHour, want.FailedPerHour))
	}
	return strings.Join(d, "; ")
}

func testQueryStats(t *testing.T, q *qaEnv) {
	d := q.data
	since, until := d.now.Add(-150*time.Hour), d.now.Add(-10*time.Hour)
	window := qaFilter{since: since, until: until}
	hours := until.Sub(since).Hours()
	rng := "since=" + rfc(since) + "&until=" + rfc(until)

	type key struct{ syncType, source, status string }
	group := func(f qaFilter, by func(*qaRun) key) map[key][]*qaRun {
		m := map[key][]*qaRun{}
		for _, r := range d.list(f) {
			m[by(r)] = append(m[by(r)], r)
		}
		return m
	}
	cases := []struct {
		name   string
		params string
		f      qaFilter
		by     func(*qaRun) key
	}{
		{"ungrouped", rng, window, func(*qaRun) key { return key{} }},
		{"by sync type", rng + "&group_by=sync_type", window, func(r *qaRun) key { return key{syncType: r.syncType} }},
		{"by sync type and source", rng + "&group_by=sync_type,source", window, func(r *qaRun) key { return key{syncType: r.syncType, source: r.source} }},
		{"by status, filtered", rng + "&group_by=status&sync_type=products,prices&source=haier", qaFilter{since: since, until: until, types: []string{"products", "prices"}, sources: []string{"haier"}},
			func(r *qaRun) key { return key{status: string(r.status)} }},
		{"all three", rng + "&group_by=status&group_by=source,sync_type", window, func(r *qaRun) key { return key{string(r.syncType), r.source, string(r.status)} }},
		{"searched", rng + "&q=timeout&group_by=sync_type", qaFilter{since: since, until: until, q: "timeout"}, func(r *qaRun) key { return key{syncType: r.syncType} }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := group(c.f, c.by)
			for _, base := range []string{"/api/v1/stats?", "/api/monitor/statistics/?", "/api/monitor/statistics?"} {
				resp := qaDecode[api.StatsResponse](t, q.get(t, base+c.params, http.StatusOK))
				if !resp.Since.Equal(since) || !resp.Until.Equal(until) {
					t.Errorf("range %s..%s, want %s..%s", resp.Since, resp.Until, since, until)
				}
				if len(resp.Stats) != len(want) {
					t.Fatalf("%s: %d groups, want %d", base, len(resp.Stats), len(want))
				}
				for _, got := range resp.Stats {
					k := key{got.SyncType, got.Source, got.Status}
					if diff := diffStats(got.Stats, expectStats(want[k], hours)); diff != "" {
						t.Errorf("%s group %v: %s", base, k, diff)
					}
				}
			}
		})
	}
	t.Run("buckets", func(t *testing.T) {
		resp := qaDecode[api.StatsResponse](t, q.get(t, "/api/v1/stats?"+rng+"&interval=6h&group_by=sync_type", http.StatusOK))
		if resp.Interval != "6h0m0s" || resp.IntervalSeconds != 6*3600 {
			t.Errorf("interval %q %d", resp.Interval, resp.IntervalSeconds)
		}
		want := map[string][]*qaRun{}
		for _, r := range d.list(window) {
			b := time.UnixMilli(r.start.UnixMilli() / (6 * 3600 * 1000) * (6 * 3600 * 1000)).UTC()
			k := b.Format(time.RFC3339) + " " + r.syncType
			want[k] = append(want[k], r)
		}
		if len(resp.Stats) != len(want) {
			t.Fatalf("%d rows, want %d", len(resp.Stats), len(want))
		}
		for _, got := range resp.Stats {
			k := got.Bucket.UTC().Format(time.RFC3339) + " " + got.SyncType
			if diff := diffStats(got.Stats, expectStats(want[k], 6)); diff != "" {
				t.Errorf("%s: %s", k, diff)
			}
		}
	})
	t.Run("the last day by default", func(t *testing.T) {
		resp := qaDecode[api.StatsResponse](t, q.get(t, "/api/v1/stats", http.StatusOK))
		if span := resp.Until.Sub(resp.Since); span != 24*time.Hour {
			t.Errorf("default range spans %s", span)
		}
		want := expectStats(d.list(qaFilter{since: d.now.Add(-24 * time.Hour)}), 24)
		if len(resp.Stats) != 1 {
			t.Fatalf("%d rows", len(resp.Stats))
		}
		if diff := diffStats(resp.Stats[0].Stats, want); diff != "" {
			t.Error(diff)
		}
	})
	t.Run("no runs", func(t *testing.T) {
		resp := qaDecode[api.StatsResponse](t, q.get(t, "/api/v1/stats?q=nothing-like-this", http.StatusOK))
		if len(resp.Stats) != 0 {
			t.Errorf("%d rows for no runs", len(resp.Stats))
		}
	})
}

// expectDaily computes the daily report of the day that starts at start
// in loc.
func expectDaily(d *qaData, start time.Time) []runs.DailyRow {
	loc := start.Location()
	next := time.Date(start.Year(), start.Month(), start.Day()+1, 0, 0, 0, 0, loc)
	prev := start.AddDate(0, 0, -1)
	week := start.AddDate(0, 0, -7)
	figures := func(list []*qaRun, days float64) runs.DayFigures {
		var f runs.DayFigures
		var durs []float64
		for _, r := range list {
			f.Runs++
			switch r.status {
			case synclog.StatusSuccess:
				f.Success++
			case synclog.StatusFailed:
				f.Failed++
			case synclog.StatusPartial:
				f.Partial++
			}
			if r.terminal() {
				f.Records += float64(r.total)
				durs = append(durs, float64(*r.durationMS())/1000)
			}
		}
		if t := f.Success + f.Failed + f.Partial; t > 0 {
			v := f.Success / t
			f.SuccessRate = &v
			sort.Float64s(durs)
			sum := 0.0
			for _, x := range durs {
				sum += x
			}
			avg, p95 := sum/float64(len(durs)), quantile(durs, .95)
			f.DurationAvg, f.DurationP95 = &avg, &p95
		}
		f.Runs, f.Success, f.Failed, f.Partial, f.Records = f.Runs/days, f.Success/days, f.Failed/days, f.Partial/days, f.Records/days
		return f
	}
	var out []runs.DailyRow
	for _, st := range slices.Sorted(slices.Values(synclog.DefaultSyncTypes)) {
		day := d.list(qaFilter{types: []string{st}, since: start, until: next})
		before := d.list(qaFilter{types: []string{st}, since: prev, until: start})
		seven := d.list(qaFilter{types: []string{st}, since: week, until: start})
		if len(day)+len(seven) == 0 {
			continue
		}
		row := runs.DailyRow{SyncType: st, Day: figures(day, 1), Previous: figures(before, 1), SevenDay: figures(seven, 7)}
		row.ChangeRuns = row.Day.Runs - row.Previous.Runs
		if row.Day.SuccessRate != nil && row.Previous.SuccessRate != nil {
			v := *row.Day.SuccessRate - *row.Previous.SuccessRate
			row.ChangeSuccessRate = &v
		}
		out = append(out, row)
	}
	return out
}

func diffDayFigures(got, want runs.DayFigures) string {
	var d []string
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"runs", got.Runs, want.Runs}, {"success", got.Success, want.Success}, {"failed", got.Failed, want.Failed},
		{"partial", got.Partial, want.Partial}, {"records", got.Records, want.Records}} {
		if !near(c.got, c.want) {
			d = append(d, fmt.Sprintf("%s %v, want %v", c.name, c.got, c.want))
		}
	}
	for _, c := range []struct {
		name      string
		got, want *float64
	}{{"success_rate", got.SuccessRate, want.SuccessRate}, {"avg", got.DurationAvg, want.DurationAvg}, {"p95", got.DurationP95, want.DurationP95}} {
		if !nearPtr(c.got, c.want) {
			d = append(d, fmt.Sprintf("%s %v, want %v", c.name, fmtPtr(c.got), fmtPtr(c.want)))
		}
	}
	return strings.Join(d, ", ")
}

func testQueryDailyReport(t *testing.T, q *qaEnv) {
	for _, tz := range []string{"UTC", "Asia/Shanghai", "America/New_York"} {
		t.Run(tz, func(t *testing.T) {
			loc, err := time.LoadLocation(tz)
			if err != nil {
				t.Fatal(err)
			}
			y, m, dd := q.data.now.In(loc).AddDate(0, 0, -2).Date()
			start := time.Date(y, m, dd, 0, 0, 0, 0, loc)
			date := start.Format(time.DateOnly)
			resp := qaDecode[api.DailyReportResponse](t, q.get(t, "/api/v1/reports/daily?date="+date+"&tz="+url.QueryEscape(tz), http.StatusOK))
			if resp.Date != date || resp.TZ != tz || !resp.Start.Equal(start) {
				t.Errorf("report of %s %s from %s, want %s %s from %s", resp.Date, resp.TZ, resp.Start, date, tz, start)
			}
			want := expectDaily(q.data, start)
			if len(resp.SyncTypes) != len(want) {
				t.Fatalf("%d sync types, want %d", len(resp.SyncTypes), len(want))
			}
			for i, w := range want {
				g := resp.SyncTypes[i]
				if g.SyncType != w.SyncType {
					t.Fatalf("row %d is %s, want %s", i, g.SyncType, w.SyncType)
				}
				for _, p := range []struct {
					name      string
					got, want runs.DayFigures
				}{{"day", g.Day, w.Day}, {"previous", g.Previous, w.Previous}, {"seven-day", g.SevenDay, w.SevenDay}} {
					if diff := diffDayFigures(p.got, p.want); diff != "" {
						t.Errorf("%s %s: %s", w.SyncType, p.name, diff)
					}
				}
				if !near(g.ChangeRuns, w.ChangeRuns) || !nearPtr(g.ChangeSuccessRate, w.ChangeSuccessRate) {
					t.Errorf("%s change %v %v, want %v %v", w.SyncType, g.ChangeRuns, fmtPtr(g.ChangeSuccessRate), w.ChangeRuns, fmtPtr(w.ChangeSuccessRate))
				}
			}

			// CSV and Markdown carry the same rows.
			csvBody := q.get(t, "/api/v1/reports/daily?format=csv&date="+date+"&tz="+url.QueryEscape(tz), http.StatusOK)
			recs, err := csv.NewReader(bytes.NewReader(csvBody)).ReadAll()
			if err != nil || len(recs) != len(want)+1 || !slices.Equal(recs[0], api.DailyCSVHeader) {
				t.Fatalf("csv: %v, %d records: %s", err, len(recs), csvBody)
			}
			for i, w := range want {
				if recs[i+1][0] != w.SyncType || recs[i+1][1] != strconv.FormatFloat(w.Day.Runs, 'f', -1, 64) {
					t.Errorf("csv row %d: %v", i, recs[i+1])
				}
			}
			for _, how := range [][]string{{"format", "markdown"}, {"format", "md"}, {"Accept", "text/markdown"}} {
				target := "/api/v1/reports/daily?date=" + date + "&tz=" + url.QueryEscape(tz)
				accept := "*/*"
				if how[0] == "format" {
					target += "&format=" + how[1]
				} else {
					accept = how[1]
				}
				w := contract.Call(t, q.env.Handler(), http.MethodGet, target, contract.Options{Header: http.Header{"Accept": {accept}}})
				if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/markdown") {
					t.Fatalf("markdown via %v: %d %s", how, w.Code, w.Header().Get("Content-Type"))
				}
				md := w.Body.String()
				lines := strings.Split(strings.TrimSpace(md), "\n")
				// A title, a blank line, the header, the rule, one line per sync type.
				if len(lines) != 4+len(want) || !strings.Contains(md, "| Sync type |") {
					t.Errorf("markdown via %v:\n%s", how, md)
				}
				for i, w := range want {
					if !strings.HasPrefix(lines[4+i], "| "+w.SyncType+" | "+strconv.FormatFloat(w.Day.Runs, 'f', 0, 64)+" |") {
						t.Errorf("markdown row %q for %s", lines[4+i], w.SyncType)
					}
				}
			}
		})
	}
	t.Run("today by default", func(t *testing.T) {
		resp := qaDecode[api.DailyReportResponse](t, q.get(t, "/api/v1/reports/daily", http.StatusOK))
		if resp.Date != time.Now().UTC().Format(time.DateOnly) || resp.TZ != "UTC" {
			t.Errorf("default report of %s %s", resp.Date, resp.TZ)
		}
	})
}

// expectErrorGroups computes the error groups of failed and partial runs
// started in [since, until).
func expectErrorGroups(d *qaData, f qaFilter, limit int) []runs.ErrorGroup {
	prevFilter := f
	prevFilter.since, prevFilter.until = f.since.Add(-f.until.Sub(f.since)), f.since
	f.statuses = []synclog.Status{synclog.StatusFailed, synclog.StatusPartial}
	prevFilter.statuses = f.statuses
	groups := map[uint64]*runs.ErrorGroup{}
	var latest = map[uint64]time.Time{}
	for _, r := range d.list(f) {
		fp := synclog.Fingerprint(r.message)
		if fp == 0 {
			continue
		}
		g := groups[fp]
		if g == nil {
			g = &runs.ErrorGroup{Fingerprint: runs.Fingerprint(fp), FirstSeen: r.start, LastSeen: r.start}
			groups[fp] = g
		}
		g.Count++
		if r.start.Before(g.FirstSeen) {
			g.FirstSeen = r.start
		}
		if !r.start.Before(g.LastSeen) {
			g.LastSeen = r.start
		}
		if !slices.Contains(g.SyncTypes, r.syncType) {
			g.SyncTypes = append(g.SyncTypes, r.syncType)
		}
		if !slices.Contains(g.Sources, r.source) {
			g.Sources = append(g.Sources, r.source)
		}
		if r.start.After(latest[fp]) {
			latest[fp] = r.start
			g.Sample = r.message
		}
	}
	for _, r := range d.list(prevFilter) {
		if g := groups[synclog.Fingerprint(r.message)]; g != nil {
			g.Previous++
		}
	}
	var out []runs.ErrorGroup
	for _, g := range groups {
		sort.Strings(g.SyncTypes)
		sort.Strings(g.Sources)
		g.Rising = g.Count >= g.Previous+2 && 2*g.Count >= 3*g.Previous
		out = append(out, *g)
	}
	slices.SortFunc(out, func(a, b runs.ErrorGroup) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Fingerprint, b.Fingerprint))
	})
	return out[:min(limit, len(out))]
}

func testQueryErrorReport(t *testing.T, q *qaEnv) {
	d := q.data
	since, until := d.now.Add(-72*time.Hour), d.now.Add(time.Millisecond)
	rng := "since=" + rfc(since) + "&until=" + rfc(until)
	cases := []struct {
		name   string
		params string
		f      qaFilter
		limit  int
	}{
		{"window", rng, qaFilter{since: since, until: until}, 50},
		{"limited", rng + "&limit=3", qaFilter{since: since, until: until}, 3},
		{"one sync type and source", rng + "&sync_type=products,stock&source=gree", qaFilter{since: since, until: until, types: []string{"products", "stock"}, sources: []string{"gree"}}, 50},
		{"searched", rng + "&q=HTTP", qaFilter{since: since, until: until, q: "http"}, 50},
		{"a longer window", "since=" + rfc(d.now.Add(-200*time.Hour)) + "&until=" + rfc(d.now.Add(-20*time.Hour)), qaFilter{since: d.now.Add(-200 * time.Hour), until: d.now.Add(-20 * time.Hour)}, 1000},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := qaDecode[api.ErrorReportResponse](t, q.get(t, "/api/v1/reports/errors?"+c.params, http.StatusOK))
			want := expectErrorGroups(d, c.f, c.limit)
			if len(resp.Groups) != len(want) {
				t.Fatalf("%d groups, want %d", len(resp.Groups), len(want))
			}
			rising := 0
			for i, w := range want {
				g := resp.Groups[i]
				if g.Fingerprint != w.Fingerprint || g.Count != w.Count || g.Previous != w.Previous || g.Rising != w.Rising ||
					!g.FirstSeen.Equal(w.FirstSeen) || !g.LastSeen.Equal(w.LastSeen) || g.Sample != w.Sample ||
					!slices.Equal(g.SyncTypes, w.SyncTypes) || !slices.Equal(g.Sources, w.Sources) {
					t.Errorf("group %d:\n got %+v\nwant %+v", i, g, w)
				}
				if w.Rising {
					rising++
				}
			}
			t.Logf("%d groups, %d rising", len(want), rising)
		})
	}
	t.Run("the last day by default", func(t *testing.T) {
		resp := qaDecode[api.ErrorReportResponse](t, q.get(t, "/api/v1/reports/errors", http.StatusOK))
		want := expectErrorGroups(d, qaFilter{since: d.now.Add(-24 * time.Hour), until: d.now.Add(time.Hour)}, 50)
		if len(resp.Groups) != len(want) {
			t.Errorf("%d groups, want %d", len(resp.Groups), len(want))
		}
	})
}

// expectTrendPoints computes the UTC trend points of the days from first
// to last with the baseline rule the API documents.
func expectTrendPoints(d *qaData, first, last time.Time, baselineDays int) []runs.TrendPoint {
	type day struct {
		runs, terminal, success uint64
		durs                    []float64
	}
	from := first.AddDate(0, 0, -baselineDays)
	n := int(last.Sub(from)/(24*time.Hour)) + 1
	series := map[string][]day{}
	for _, r := range d.runs {
		i := int(r.start.Sub(from) / (24 * time.Hour))
		if r.start.Before(from) || i >= n {
			continue
		}
		if series[r.syncType] == nil {
			series[r.syncType] = make([]day, n)
		}
		x := &series[r.syncType][i]
		x.runs++
		if r.terminal() {
			x.terminal++
			x.durs = append(x.durs, float64(*r.durationMS())/1000)
			if r.status == synclog.StatusSuccess {
				x.success++
			}
		}
	}
	median := func(xs []float64) float64 {
		sort.Float64s(xs)
		if len(xs)%2 == 1 {
			return xs[len(xs)/2]
		}
		return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
	}
	var out []runs.TrendPoint
	for _, st := range slices.Sorted(func(yield func(string) bool) {
		for k := range series {
			if !yield(k) {
				return
			}
		}
	}) {
		days := series[st]
		ratio := func(x day) *float64 {
			if x.terminal == 0 {
				return nil
			}
			v := float64(x.success) / float64(x.terminal)
			return &v
		}
		p95 := func(x day) *float64 {
			if x.terminal == 0 {
				return nil
			}
			s := slices.Clone(x.durs)
			sort.Float64s(s)
			v := quantile(s, .95)
			return &v
		}
		for i := baselineDays; i < n; i++ {
			x := days[i]
			pt := runs.TrendPoint{SyncType: st, Day: from.AddDate(0, 0, i).Format(time.DateOnly), Start: from.AddDate(0, 0, i),
				Runs: x.runs, Terminal: x.terminal, Success: x.success, SuccessRatio: ratio(x), DurationP95: p95(x), Reasons: []string{}}
			var rs, ps []float64
			for _, b := range days[i-baselineDays : i] {
				if b.terminal > 0 {
					rs, ps = append(rs, *ratio(b)), append(ps, *p95(b))
				}
			}
			pt.Baseline.Days = len(rs)
			if len(rs) >= min(3, baselineDays) {
				mr, mp := median(rs), median(ps)
				pt.Baseline.SuccessRatio, pt.Baseline.DurationP95 = &mr, &mp
				if pt.DurationP95 != nil && *pt.DurationP95 > 1.5*mp && *pt.DurationP95 >= mp+1 {
					pt.Reasons = append(pt.Reasons, runs.TrendReasonDuration)
				}
				if pt.SuccessRatio != nil && *pt.SuccessRatio < mr-0.1 {
					pt.Reasons = append(pt.Reasons, runs.TrendReasonSuccessRatio)
				}
			}
			pt.Regression = len(pt.Reasons) > 0
			out = append(out, pt)
		}
	}
	return out
}

func testQueryTrendReport(t *testing.T, q *qaEnv) {
	today := q.data.now.Truncate(24 * time.Hour)
	first, last := today.AddDate(0, 0, -5), today.AddDate(0, 0, -1)
	for _, baseline := range []int{2, 3} {
		t.Run(fmt.Sprintf("baseline of %d days", baseline), func(t *testing.T) {
			target := fmt.Sprintf("/api/v1/reports/trends?since=%s&until=%s&baseline_days=%d", first.Format(time.DateOnly), last.Format(time.DateOnly), baseline)
			resp := qaDecode[api.TrendsResponse](t, q.get(t, target, http.StatusOK))
			if resp.TZ != "UTC" || resp.BaselineDays != baseline || !strings.Contains(resp.Rule, "median") {
				t.Errorf("tz %q baseline %d rule %q", resp.TZ, resp.BaselineDays, resp.Rule)
			}
			want := expectTrendPoints(q.data, first, last, baseline)
			if len(resp.Points) != len(want) {
				t.Fatalf("%d points, want %d", len(resp.Points), len(want))
			}
			for i, w := range want {
				g := resp.Points[i]
				if g.SyncType != w.SyncType || g.Day != w.Day || !g.Start.Equal(w.Start) || g.Runs != w.Runs || g.Terminal != w.Terminal ||
					g.Success != w.Success || !nearPtr(g.SuccessRatio, w.SuccessRatio) || !nearPtr(g.DurationP95, w.DurationP95) ||
					g.Baseline.Days != w.Baseline.Days || !nearPtr(g.Baseline.DurationP95, w.Baseline.DurationP95) ||
					!nearPtr(g.Baseline.SuccessRatio, w.Baseline.SuccessRatio) || g.Regression != w.Regression || !slices.Equal(g.Reasons, w.Reasons) {
					t.Errorf("point %d:\n got %+v\nwant %+v", i, g, w)
				}
			}
			one := qaDecode[api.TrendsResponse](t, q.get(t, target+"&sync_type=prices", http.StatusOK))
			for _, p := range one.Points {
				if p.SyncType != "prices" {
					t.Errorf("sync_type=prices gave a point of %s", p.SyncType)
				}
			}
		})
	}
	t.Run("the last two weeks by default", func(t *testing.T) {
		resp := qaDecode[api.TrendsResponse](t, q.get(t, "/api/v1/reports/trends?tz=Asia/Shanghai", http.StatusOK))
		days := map[string]bool{}
		for _, p := range resp.Points {
			days[p.Day] = true
		}
		if len(days) != api.DefaultTrendDays || resp.BaselineDays != api.DefaultBaselineDays || resp.TZ != "Asia/Shanghai" {
			t.Errorf("%d days, baseline %d, tz %s", len(days), resp.BaselineDays, resp.TZ)
		}
		if !days[time.Now().In(mustLoc(t, "Asia/Shanghai")).Format(time.DateOnly)] {
			t.Error("today is missing")
		}
	})
}

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func testQueryDashboard(t *testing.T, q *qaEnv) {
	d := q.data
	for _, path := range []string{"/api/monitor/dashboard/", "/api/monitor/dashboard"} {
		t.Run(path, func(t *testing.T) {
			resp := qaDecode[api.Dashboard](t, q.get(t, path, http.StatusOK))
			if resp.Health.Status != "ok" || resp.Health.Components["clickhouse"].Status != "ok" {
				t.Errorf("health %+v", resp.Health)
			}
			window := qaFilter{since: d.now.Add(-24 * time.Hour)}
			if diff := diffStats(resp.Totals, expectStats(d.list(window), 24)); diff != "" {
				t.Errorf("totals: %s", diff)
			}
			if len(resp.SyncTypes) != len(synclog.DefaultSyncTypes) {
				t.Fatalf("%d sync types", len(resp.SyncTypes))
			}
			for i, st := range resp.SyncTypes {
				if st.SyncType != synclog.DefaultSyncTypes[i] {
					t.Fatalf("sync type %d is %s", i, st.SyncType)
				}
				w := expectStats(d.list(qaFilter{since: window.since, types: []string{st.SyncType}}), 24)
				if st.Runs != w.Runs || st.Success != w.Success || st.Failed != w.Failed || st.Partial != w.Partial ||
					st.InProgress != w.Pending+w.Processing || !nearPtr(st.SuccessRatio, w.SuccessRatio) || !nearPtr(st.RecordSuccessRatio, w.RecordSuccessRatio) {
					t.Errorf("%s: %+v, want %+v", st.SyncType, st, w)
				}
				var last *time.Time
				for _, r := range d.list(qaFilter{types: []string{st.SyncType}, statuses: []synclog.Status{synclog.StatusSuccess}}) {
					if last == nil || r.completed.After(*last) {
						last = r.completed
					}
				}
				if (st.LastSuccessAt == nil) != (last == nil) || last != nil && !st.LastSuccessAt.Equal(*last) {
					t.Errorf("%s last success %v, want %v", st.SyncType, fmtPtr(st.LastSuccessAt), fmtPtr(last))
				}
				if st.DisplayName == "" || st.DisplayNameZH == "" {
					t.Errorf("%s has no display names", st.SyncType)
				}
			}
			want := d.list(qaFilter{statuses: []synclog.Status{synclog.StatusFailed, synclog.StatusPartial}})[:api.RecentFailures]
			if len(resp.RecentFailures) != len(want) {
				t.Fatalf("%d recent failures", len(resp.RecentFailures))
			}
			for i := range want {
				checkRun(t, resp.RecentFailures[i].Run, want[i])
			}
		})
	}
}

// TestQueryPaginationWhileRunsArrive pages through runs while new runs,
// lifecycle updates and repeated deliveries arrive between pages: no run
// that existed when paging began is skipped, and none is returned twice.
func TestQueryPaginationWhileRunsArrive(t *testing.T) {
	st := apptest.NewRealStore(t)
	env := apptest.New(t, apptest.Options{Storage: st, Query: st})
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	insert := func(reps ...synclog.Report) {
		t.Helper()
		if err := st.InsertReports(ctx, reps); err != nil {
			t.Fatal(err)
		}
	}
	mk := func(id string, start time.Time, status synclog.Status) synclog.Report {
		r := synclog.Report{RunID: id, EventID: id + "-" + string(status), SyncType: "stock", Status: status, StartedAt: start}
		r.Normalize(time.Now())
		return r
	}
	var initial []synclog.Report
	for i := range 60 {
		start := now.Add(-time.Duration(i/2) * time.Minute) // pairs share a start
		status := synclog.StatusSuccess
		if i%5 == 0 {
			status = synclog.StatusProcessing
		}
		initial = append(initial, mk(fmt.Sprintf("p-%03d", i), start, status))
	}
	insert(initial...)
	existing := map[string]bool{}
	var inProgress []synclog.Report
	for _, r := range initial {
		existing[r.RunID] = true
		if r.Status == synclog.StatusProcessing {
			inProgress = append(inProgress, r)
		}
	}
	var behind, ahead []string

	seen := map[string]int{}
	var order []runs.Run
	cursor := ""
	for page := 0; ; page++ {
		target := "/api/v1/runs?sync_type=stock&limit=7"
		if cursor != "" {
			target += "&cursor=" + cursor
		}
		w := contract.Call(t, env.Handler(), http.MethodGet, target, contract.Options{})
		if w.Code != http.StatusOK {
			t.Fatalf("page %d: %d %s", page, w.Code, w.Body.String())
		}
		p := testutil.Decode[api.RunsPage](t, w)
		for _, r := range p.Runs {
			seen[r.RunID]++
			order = append(order, r.Run)
		}
		if p.NextCursor == nil {
			break
		}
		cursor = *p.NextCursor
		last := p.Runs[len(p.Runs)-1]
		// Between pages: a newer run, an older one, runs at the cursor's
		// very start on both sides of its run id, the end of a run in
		// progress (seen or not), and a repeated delivery.
		tag := strconv.Itoa(page)
		insert(
			mk("new-newest-"+tag, now.Add(time.Duration(page+1)*time.Second), synclog.StatusSuccess),
			mk("new-older-"+tag, last.StartedAt.Add(-90*time.Second), synclog.StatusFailed),
			mk(last.RunID+"-z"+tag, last.StartedAt, synclog.StatusSuccess),
			mk("a-"+tag, last.StartedAt, synclog.StatusSuccess),
			initial[(page*5)%len(initial)],
		)
		behind = append(behind, "new-older-"+tag, "a-"+tag)
		ahead = append(ahead, "new-newest-"+tag, last.RunID+"-z"+tag)
		// The end of a run in progress, seen or not yet; its terminal
		// report gives a later start, which must not move the run.
		r := inProgress[page%len(inProgress)]
		done := mk(r.RunID, r.StartedAt.Add(time.Hour), synclog.StatusSuccess)
		c := r.StartedAt.Add(3 * time.Second)
		done.CompletedAt = &c
		done.EventID = r.RunID + "-done-" + tag
		insert(done)
	}
	for _, id := range behind {
		if seen[id] != 1 {
			t.Errorf("run %s arrived behind the cursor and was returned %d times, want once", id, seen[id])
		}
	}
	for _, id := range ahead {
		if seen[id] != 0 {
			t.Errorf("run %s arrived ahead of the cursor and was returned", id)
		}
	}
	for id := range existing {
		if seen[id] != 1 {
			t.Errorf("run %s returned %d times", id, seen[id])
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("run %s returned %d times", id, n)
		}
	}
	for i := 1; i < len(order); i++ {
		a, b := order[i-1], order[i]
		if b.StartedAt.After(a.StartedAt) || b.StartedAt.Equal(a.StartedAt) && b.RunID >= a.RunID {
			t.Errorf("runs out of order: %s %s before %s %s", a.RunID, a.StartedAt, b.RunID, b.StartedAt)
		}
	}
}

// qaInjections are attempts to break out of a bound parameter.
var qaInjections = []string{
	"' OR '1'='1",
	"x' OR 1=1 --",
	"'; DROP TABLE runs; --",
	`\' OR 1=1 --`,
	"products') OR ('1'='1",
	"{f_sources:Array(String)}",
	"1; SELECT * FROM system.tables",
	"%' UNION ALL SELECT * FROM reports --",
	"%",
	"_",
	`\`,
	"'",
	`"`,
	"\x00",
	"\t\n",
	"ʼ OR 1=1",
	"2026-01-01' OR '1'='1",
	"products,prices' --",
}

// testQuerySQLInjection puts each attempt into every string parameter of
// every endpoint: the answer is a 400 or the correct result for the
// literal value, never a server error or other data, and the store is
// intact afterwards.
func testQuerySQLInjection(t *testing.T, q *qaEnv) {
	d := q.data
	h := q.env.Handler()
	endpoints := map[string][]string{
		"/api/v1/runs":           {"source", "sync_type", "status", "since", "until", "q", "limit", "cursor", "format"},
		"/api/monitor/records/":  {"source", "sync_type", "status", "q"},
		"/api/v1/stats":          {"source", "sync_type", "status", "since", "until", "q", "group_by", "interval"},
		"/api/v1/reports/daily":  {"date", "tz", "format"},
		"/api/v1/reports/errors": {"source", "sync_type", "since", "until", "q", "limit"},
		"/api/v1/reports/trends": {"since", "until", "tz", "baseline_days", "sync_type"},
		"/api/monitor/clear/":    {"source", "sync_type", "status", "since", "until", "q", "dry_run", "confirm"},
	}
	for path, params := range endpoints {
		for _, param := range params {
			t.Run(path+" "+param, func(t *testing.T) {
				for _, inj := range qaInjections {
					v := url.Values{param: {inj}}
					method := http.MethodGet
					if path == "/api/monitor/clear/" {
						method = http.MethodPost
						if param != "dry_run" {
							v.Set("dry_run", "true")
						}
						if param != "until" {
							v.Set("until", d.now.Format(time.RFC3339))
						}
					}
					if param == "q" && path != "/api/monitor/clear/" {
						v.Set("limit", "1000")
						if path == "/api/v1/stats" || path == "/api/v1/reports/errors" {
							v.Del("limit")
							v.Set("since", rfc2(d.now.Add(-9*24*time.Hour)))
						}
					}
					w := contract.Call(t, h, method, path+"?"+v.Encode(), contract.Options{InvalidRequest: true})
					switch {
					case w.Code == http.StatusBadRequest:
						if testutil.Decode[web.ErrorResponse](t, w).Field == "" {
							t.Errorf("%q: a 400 without the field", inj)
						}
					case w.Code == http.StatusOK:
						if param != "q" {
							// Blank values select nothing: the answer is
							// the one without the parameter.
							if strings.TrimSpace(inj) != "" {
								t.Errorf("%s=%q answered 200: %.200s", param, inj, w.Body.String())
							} else if path == "/api/v1/runs" {
								if n := len(testutil.Decode[api.RunsPage](t, w).Runs); n != min(api.DefaultPageSize, len(d.runs)) {
									t.Errorf("%s=%q: %d runs, want all", param, inj, n)
								}
							}
							continue
						}
						f := qaFilter{q: inj}
						switch path {
						case "/api/v1/runs", "/api/monitor/records/":
							page := testutil.Decode[api.RunsPage](t, w)
							var got []string
							for _, r := range page.Runs {
								got = append(got, r.RunID)
							}
							if want := ids(d.list(f)); !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
								t.Errorf("q=%q: %d runs, want %d", inj, len(got), len(want))
							}
						case "/api/v1/stats":
							f.since = d.now.Add(-9 * 24 * time.Hour)
							var n uint64
							for _, s := range testutil.Decode[api.StatsResponse](t, w).Stats {
								n += s.Runs
							}
							if want := uint64(len(d.list(f))); n != want {
								t.Errorf("q=%q: %d runs counted, want %d", inj, n, want)
							}
						case "/api/v1/reports/errors":
							f.since, f.until = d.now.Add(-9*24*time.Hour), time.Now().Add(time.Hour)
							var n uint64
							for _, g := range testutil.Decode[api.ErrorReportResponse](t, w).Groups {
								n += g.Count
							}
							var want uint64
							for _, g := range expectErrorGroups(d, f, 1000) {
								want += g.Count
							}
							if n != want {
								t.Errorf("q=%q: %d errors, want %d", inj, n, want)
							}
						case "/api/monitor/clear/":
							res := testutil.Decode[api.ClearResponse](t, w)
							f.until = d.now.Truncate(time.Second).Add(time.Second)
							if want := uint64(len(d.list(f))); res.Runs != want || !res.DryRun {
								t.Errorf("q=%q: dry run counts %d runs, want %d", inj, res.Runs, want)
							}
						}
					default:
						t.Errorf("%s=%q: %d %s", param, inj, w.Code, w.Body.String())
					}
				}
			})
		}
	}
	t.Run("run id", func(t *testing.T) {
		for _, inj := range qaInjections {
			w := contract.Call(t, h, http.MethodGet, "/api/v1/runs/"+url.PathEscape(inj), contract.Options{InvalidRequest: true})
			if w.Code != http.StatusBadRequest && w.Code != http.StatusNotFound {
				t.Errorf("run id %q: %d %s", inj, w.Code, w.Body.String())
			}
		}
	})
	t.Run("the store is intact", func(t *testing.T) {
		page := qaDecode[api.RunsPage](t, q.get(t, "/api/v1/runs?limit=1000", http.StatusOK))
		if len(page.Runs) != len(d.runs) {
			t.Errorf("%d runs after the attempts, want %d", len(page.Runs), len(d.runs))
		}
	})
}

func rfc2(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

var _ api.Querier = (*clickhouse.Store)(nil)
