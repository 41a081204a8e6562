package replicas_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/syncwatch/syncwatch/clickhouse"
	"github.com/syncwatch/syncwatch/collector"
	"github.com/syncwatch/syncwatch/internal/apptest"
	"github.com/syncwatch/syncwatch/runs"
	"github.com/syncwatch/syncwatch/synclog"
)

// replica is one collector process of the simulation: its service, spool
// and batcher (apptest builds them as serve does) behind a loopback HTTP
// server.
type replica struct {
	dir string

	mu  sync.RWMutex
	env *apptest.Env
	srv *httptest.Server
	// up is false from the moment the replica is killed until it restarts.
	up bool
	// stopBatcher stops the running batcher.
	stopBatcher func(ctx context.Context) error
}

// cluster is N replicas, the shared store, and the router in front.
type cluster struct {
	t        *testing.T
	store    *clickhouse.Store
	replicas []*replica
	client   *http.Client

	rngMu sync.Mutex
	rng   *rand.Rand
}

// start builds replica r's service over its spool directory and serves
// it; the batcher inserts every flushAge, or never (flushAge 0) so that
// the spool keeps what the replica accepts.
func (c *cluster) start(r *replica, flushAge time.Duration) {
	c.t.Helper()
	bc := collector.BatcherConfig{Size: 40, MaxAge: flushAge, MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}
	if flushAge == 0 {
		bc = collector.BatcherConfig{Size: 1 << 30, MaxAge: time.Hour}
	}
	env := apptest.New(c.t, apptest.Options{Storage: c.store, SpoolDir: r.dir, Batcher: bc, LogLevel: logrus.WarnLevel})
	done := make(chan struct{})
	go func() {
		defer close(done)
		env.Batcher.Run()
	}()
	srv := httptest.NewServer(env.Handler())
	r.mu.Lock()
	r.env, r.srv, r.up = env, srv, true
	r.stopBatcher = func(ctx context.Context) error {
		err := env.Batcher.Stop(ctx)
		<-done
		return err
	}
	r.mu.Unlock()
}

// kill stops replica r as a crash would, mid-stream: its server goes
// away (the requests it is serving finish, new ones are refused), its
// batcher stops without flushing, its spool is closed with whatever it
// holds. It returns how many reports the spool held.
func (c *cluster) kill(r *replica) int {
	c.t.Helper()
	r.mu.RLock()
	srv, env, stop := r.srv, r.env, r.stopBatcher
	r.mu.RUnlock()
	srv.Close()
	r.mu.Lock()
	r.up = false
	r.mu.Unlock()
	dead, cancel := context.WithCancel(context.Background())
	cancel()
	_ = stop(dead) // it says that reports stay in the spool: they must
	pending, _ := env.Spool.Pending()
	if err := env.Spool.Close(); err != nil {
		c.t.Errorf("close the killed replica's spool: %v", err)
	}
	return pending
}

// address returns the base URL of replica r, or false while it is down.
func (r *replica) address() (string, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if !r.up {
		return "", false
	}
	return r.srv.URL, true
}

// pick returns a random replica other than avoid (-1 for any).
func (c *cluster) pick(avoid int) int {
	c.rngMu.Lock()
	defer c.rngMu.Unlock()
	for {
		i := c.rng.IntN(len(c.replicas))
		if i != avoid || len(c.replicas) == 1 {
			return i
		}
	}
}

func (c *cluster) chance(p float64) bool {
	c.rngMu.Lock()
	defer c.rngMu.Unlock()
	return c.rng.Float64() < p
}

// answer is what the router got for one report.
type answer struct {
	replica   int
	runID     string
	duplicate bool
}

// send posts one report as a load balancer would: to a random replica
// (other than avoid), and to another one when the chosen one is down or
// does not answer. It returns once a replica acknowledged the report.
func (c *cluster) send(report map[string]any, avoid int) (answer, error) {
	body, err := json.Marshal(report)
	if err != nil {
		return answer{}, err
	}
	var last error
	for attempt := 0; attempt < 200; attempt++ {
		i := c.pick(avoid)
		url, ok := c.replicas[i].address()
		if !ok {
			last = fmt.Errorf("replica %d is down", i)
			continue
		}
		resp, err := c.client.Post(url+collector.Route, "application/json", bytes.NewReader(body))
		if err != nil {
			// Killed while the request was under way: the report may or
			// may not be in its spool. Either way the client retries.
			last = err
			continue
		}
		var res collector.IngestResponse
		err = json.NewDecoder(resp.Body).Decode(&res)
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusServiceUnavailable:
			last = errors.New("503")
			time.Sleep(20 * time.Millisecond)
			continue
		case resp.StatusCode != http.StatusAccepted || err != nil:
			return answer{}, fmt.Errorf("replica %d answered %d (%v): %+v", i, resp.StatusCode, err, res)
		case len(res.Items) != 1:
			return answer{}, fmt.Errorf("replica %d answered %+v", i, res)
		}
		return answer{replica: i, runID: res.Items[0].RunID, duplicate: res.Items[0].Duplicate}, nil
	}
	return answer{}, fmt.Errorf("no replica took the report: %w", last)
}

// simRun is the model of one run: what it must look like once stored.
type simRun struct {
	key              string
	source, syncType string
	start            time.Time
	completed        time.Time
	status           synclog.Status
	total, ok, bad   uint64

	mu sync.Mutex
	// runIDs are the run ids the replicas gave the run's reports.
	runIDs map[string]bool
	// acked are the event ids a replica acknowledged.
	acked []string
}

func (r *simRun) ack(a answer, eventID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.runIDs[a.runID] = true
	r.acked = append(r.acked, eventID)
}

// shapes of the simulated runs.
const (
	shapeLifecycle = iota // start, progress, end: in order
	shapeReversed         // the end first, then the start
	shapeOneShot          // one report naming no run, retried
)

// play sends the reports of run r with its shape, with retries to other
// replicas and late stale reports.
func (c *cluster) play(r *simRun, shape int) error {
	report := func(event string, status synclog.Status, withStart bool, total, ok, bad uint64, completed time.Time) map[string]any {
		m := map[string]any{
			"event_id": r.key + "-" + event, "source": r.source, "sync_type": r.syncType, "status": string(status),
			"total_count": total, "success_count": ok, "failed_count": bad,
			"attributes": map[string]string{"sim": r.key},
		}
		if shape != shapeOneShot {
			m["run_id"] = "run-" + r.key
		}
		if withStart {
			m["started_at"] = r.start.Format(time.RFC3339Nano)
		}
		if !completed.IsZero() {
			m["completed_at"] = completed.Format(time.RFC3339Nano)
		}
		return m
	}
	// deliver sends a report, and, as a client that lost the answer
	// would, sometimes sends it again to another replica, at once or
	// concurrently with the first attempt.
	deliver := func(m map[string]any) error {
		if c.chance(0.15) {
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for k := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					a, err := c.send(m, -1)
					if err == nil {
						r.ack(a, m["event_id"].(string))
					}
					errs[k] = err
				}()
			}
			wg.Wait()
			return errors.Join(errs...)
		}
		a, err := c.send(m, -1)
		if err != nil {
			return err
		}
		r.ack(a, m["event_id"].(string))
		if c.chance(0.3) {
			b, err := c.send(m, a.replica)
			if err != nil {
				return err
			}
			r.ack(b, m["event_id"].(string))
		}
		return nil
	}
	// The end report omits started_at half of the time, as the seed's
	// jobs did: the server then takes its completed_at for its start.
	endHasStart := c.chance(0.5)
	start := report("start", synclog.StatusProcessing, true, r.total, 0, 0, time.Time{})
	end := report("end", r.status, endHasStart, r.total, r.ok, r.bad, r.completed)
	switch shape {
	case shapeOneShot:
		end = report("end", r.status, true, r.total, r.ok, r.bad, r.completed)
		if err := deliver(end); err != nil {
			return err
		}
		// The client lost the answer: its retry reaches another replica.
		a, err := c.send(end, -1)
		if err == nil {
			r.ack(a, end["event_id"].(string))
		}
		return err
	case shapeReversed:
		if err := deliver(report("end", r.status, false, r.total, r.ok, r.bad, r.completed)); err != nil {
			return err
		}
		if err := deliver(start); err != nil {
			return err
		}
	default:
		if err := deliver(start); err != nil {
			return err
		}
		if c.chance(0.5) {
			if err := deliver(report("progress", synclog.StatusProcessing, true, r.total, r.ok/2, r.bad/2, time.Time{})); err != nil {
				return err
			}
		}
		if err := deliver(end); err != nil {
			return err
		}
	}
	// Late stale reports: a progress report that arrives after the end,
	// and a retry of the start long after it was stored.
	if c.chance(0.3) {
		if err := deliver(report("late", synclog.StatusProcessing, c.chance(0.5), r.total, 1, 0, time.Time{})); err != nil {
			return err
		}
	}
	if c.chance(0.3) {
		time.Sleep(150 * time.Millisecond)
		if _, err := c.send(start, -1); err != nil {
			return err
		}
	}
	return nil
}

// TestReplicasSimulation runs run lifecycles through three replicas
// behind a random router, with retries to other replicas, late stale
// reports, and one replica killed mid-stream and restarted from its
// spool, and checks what the shared store holds against the model: every
// acknowledged report stored, every run stored once with its right state,
// statistics and the activity rollup equal to the model's.
func TestReplicasSimulation(t *testing.T) {
	const nReplicas, nRuns = 3, 150
	store := apptest.NewRealStore(t)
	c := &cluster{t: t, store: store, client: &http.Client{Timeout: 30 * time.Second}, rng: rand.New(rand.NewPCG(18, uint64(time.Now().UnixNano())))}
	for i := range nReplicas {
		r := &replica{dir: fmt.Sprintf("%s/replica-%d", t.TempDir(), i)}
		c.replicas = append(c.replicas, r)
		// Replica 0 holds what it accepts in its spool until it is
		// killed; the others insert every 50ms.
		age := 50 * time.Millisecond
		if i == 0 {
			age = 0
		}
		c.start(r, age)
	}

	now := time.Now().UTC()
	sources := []string{"alpha", "beta"}
	types := []string{"products", "prices", "stock", "order"}
	statuses := []synclog.Status{synclog.StatusSuccess, synclog.StatusFailed, synclog.StatusPartial}
	model := make([]*simRun, nRuns)
	shapes := make([]int, nRuns)
	for i := range model {
		total := uint64(1 + c.rng.IntN(1000))
		st := statuses[c.rng.IntN(len(statuses))]
		ok, bad := total, uint64(0)
		switch st {
		case synclog.StatusFailed:
			ok, bad = 0, total
		case synclog.StatusPartial:
			ok, bad = total/2, total-total/2
		}
		start := now.Add(-time.Duration(10+c.rng.IntN(110)) * time.Minute).Add(time.Duration(c.rng.IntN(60000)) * time.Millisecond).Truncate(time.Millisecond)
		model[i] = &simRun{
			key: fmt.Sprintf("r%03d", i), source: sources[c.rng.IntN(len(sources))], syncType: types[c.rng.IntN(len(types))],
			start: start, completed: start.Add(time.Duration(1+c.rng.IntN(600_000)) * time.Millisecond),
			status: st, total: total, ok: ok, bad: bad, runIDs: map[string]bool{},
		}
		switch {
		case i%10 == 3:
			shapes[i] = shapeOneShot
		case i%10 == 7:
			shapes[i] = shapeReversed
		default:
			shapes[i] = shapeLifecycle
		}
	}

	// The runs are played in three phases; replica 0 is killed in the
	// middle of the second and restarted before the third.
	play := func(from, to int) *sync.WaitGroup {
		var wg sync.WaitGroup
		sem := make(chan struct{}, 12)
		for i := from; i < to; i++ {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				if err := c.play(model[i], shapes[i]); err != nil {
					t.Errorf("run %s: %v", model[i].key, err)
				}
			}()
		}
		return &wg
	}
	play(0, nRuns/3).Wait()
	phase2 := make(chan struct{})
	go func() {
		play(nRuns/3, 2*nRuns/3).Wait()
		close(phase2)
	}()
	time.Sleep(300 * time.Millisecond)
	held := c.kill(c.replicas[0])
	if held == 0 {
		t.Fatal("the killed replica's spool held no report: the restart would prove nothing")
	}
	<-phase2
	c.start(c.replicas[0], 50*time.Millisecond)
	play(2*nRuns/3, nRuns).Wait()
	if t.Failed() {
		t.FailNow()
	}

	// Every replica drains its spool.
	for i, r := range c.replicas {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := r.stopBatcher(ctx); err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
		cancel()
		if n, _ := r.env.Spool.Pending(); n != 0 {
			t.Fatalf("replica %d kept %d reports in its spool", i, n)
		}
	}
	t.Logf("replica 0 held %d reports in its spool when it was killed", held)
	checkStore(t, store, model, now)
}

// checkStore checks the shared store against the model.
func checkStore(t *testing.T, store *clickhouse.Store, model []*simRun, now time.Time) {
	t.Helper()
	ctx := context.Background()
	query := func(sql string) []map[string]any {
		t.Helper()
		rows, err := store.QueryJSON(ctx, sql)
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return rows
	}

	t.Run("every acknowledged report is stored", func(t *testing.T) {
		stored := map[string]bool{}
		for _, row := range query(`SELECT DISTINCT event_id FROM reports`) {
			stored[row["event_id"].(string)] = true
		}
		for _, r := range model {
			for _, e := range r.acked {
				if !stored[e] {
					t.Errorf("run %s: acknowledged report %s is not stored", r.key, e)
				}
			}
		}
	})

	t.Run("every run is stored once", func(t *testing.T) {
		for _, row := range query(`SELECT attributes['sim'] AS key, count() AS rows, groupArray(run_id) AS ids, groupArray(toString(started_at)) AS starts
FROM runs FINAL GROUP BY key HAVING rows != 1 ORDER BY key`) {
			t.Errorf("run %v is stored as %v rows: run ids %v, starts %v", row["key"], row["rows"], row["ids"], row["starts"])
		}
		for _, r := range model {
			if len(r.runIDs) != 1 {
				t.Errorf("run %s was answered with %d run ids: %v", r.key, len(r.runIDs), r.runIDs)
			}
		}
	})

	t.Run("every run has its state", func(t *testing.T) {
		got := map[string]map[string]any{}
		for _, row := range query(`SELECT attributes['sim'] AS key, argMax(status, version) AS status, argMax(started_at, version) AS started,
argMax(total_count, version) AS total, argMax(success_count, version) AS ok, argMax(failed_count, version) AS bad, argMax(duration_ms, version) AS ms
FROM runs FINAL GROUP BY key`) {
			got[row["key"].(string)] = row
		}
		for _, r := range model {
			row, ok := got[r.key]
			if !ok {
				t.Errorf("run %s is not stored", r.key)
				continue
			}
			want := map[string]string{
				"status": string(r.status), "started": r.start.Format("2006-01-02T15:04:05.000Z"),
				"total": fmt.Sprint(r.total), "ok": fmt.Sprint(r.ok), "bad": fmt.Sprint(r.bad),
				"ms": fmt.Sprint(r.completed.Sub(r.start).Milliseconds()),
			}
			for k, w := range want {
				if g := fmt.Sprint(row[k]); g != w {
					t.Errorf("run %s: %s = %s, want %s", r.key, k, g, w)
				}
			}
		}
	})

	t.Run("statistics equal the model's", func(t *testing.T) {
		stats, err := store.Stats(ctx, runs.StatsQuery{
			Filter:  runs.Filter{Since: now.Add(-4 * time.Hour), Until: now.Add(time.Hour)},
			GroupBy: []runs.GroupBy{runs.BySource},
		})
		if err != nil {
			t.Fatal(err)
		}
		type figures struct{ runs, success, failed, partial, processing, total, ok, bad uint64 }
		want, got := map[string]figures{}, map[string]figures{}
		for _, r := range model {
			f := want[r.source]
			f.runs++
			switch r.status {
			case synclog.StatusSuccess:
				f.success++
			case synclog.StatusFailed:
				f.failed++
			case synclog.StatusPartial:
				f.partial++
			}
			f.total += r.total
			f.ok += r.ok
			f.bad += r.bad
			want[r.source] = f
		}
		for _, s := range stats {
			got[s.Source] = figures{s.Runs, s.Success, s.Failed, s.Partial, s.Processing, s.RecordsTotal, s.RecordsSuccess, s.RecordsFailed}
		}
		for source, w := range want {
			if g := got[source]; g != w {
				t.Errorf("source %s: stats %+v, want %+v", source, g, w)
			}
		}
	})

	t.Run("the activity rollup equals the model's", func(t *testing.T) {
		type activity struct{ first, last, success string }
		want := map[string]activity{}
		format := func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
		for _, r := range model {
			k := r.source + "/" + r.syncType
			a, seen := want[k]
			if !seen || format(r.start) < a.first {
				a.first = format(r.start)
			}
			if format(r.start) > a.last {
				a.last = format(r.start)
			}
			if r.status == synclog.StatusSuccess && format(r.completed) > a.success {
				a.success = format(r.completed)
			}
			want[k] = a
		}
		for _, a := range want {
			if a.success == "" {
				a.success = format(time.Unix(0, 0))
			}
		}
		got := map[string]activity{}
		for _, row := range query(`SELECT source, sync_type, min(first_run_started_at) AS first, max(last_run_started_at) AS last, max(last_success_at) AS success
FROM run_activity GROUP BY source, sync_type`) {
			got[row["source"].(string)+"/"+row["sync_type"].(string)] = activity{fmt.Sprint(row["first"]), fmt.Sprint(row["last"]), fmt.Sprint(row["success"])}
		}
		keys := make([]string, 0, len(want))
		for k := range want {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			w := want[k]
			if w.success == "" {
				w.success = "1970-01-01T00:00:00.000Z"
			}
			if g := got[k]; g != w {
				t.Errorf("%s: activity %+v, want %+v", k, g, w)
			}
		}
	})
}
