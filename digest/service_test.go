package digest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/sirupsen/logrus"

	"github.com/syncwatch/syncwatch/clickhouse"
	"github.com/syncwatch/syncwatch/config"
	"github.com/syncwatch/syncwatch/digest"
	swtestutil "github.com/syncwatch/syncwatch/internal/testutil"
	"github.com/syncwatch/syncwatch/notify"
)

// hookReceiver is a real HTTP server behind a generic webhook channel: it
// keeps the titles it takes and answers with the statuses queued in fail
// first, then 200.
type hookReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	titles []string
	fail   []int
}

func newHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var p notify.WebhookPayload
		if err := json.Unmarshal(body, &p); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		if len(h.fail) > 0 {
			code := h.fail[0]
			h.fail = h.fail[1:]
			http.Error(w, "not now", code)
			return
		}
		h.titles = append(h.titles, p.Title)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookReceiver) got() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.titles...)
}

func (h *hookReceiver) failWith(codes ...int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fail = append(h.fail, codes...)
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// scheduled is one digest to two webhook channels over a real store.
type scheduled struct {
	st     *clickhouse.Store
	d      config.Digest
	a, b   *hookReceiver
	chans  map[string]notify.Channel
	clock  *clock
	logs   *swtestutil.Buffer
	logger *logrus.Logger
}

func newScheduled(t *testing.T, st *clickhouse.Store) *scheduled {
	t.Helper()
	s := &scheduled{st: st, a: newHookReceiver(t), b: newHookReceiver(t), clock: &clock{}}
	s.logger, s.logs = swtestutil.NewLogger()
	chans, err := notify.NewAll([]config.Channel{
		{Name: "hook-a", Type: "webhook", Endpoint: config.Secret(s.a.URL)},
		{Name: "hook-b", Type: "webhook", Endpoint: config.Secret(s.b.URL)},
	}, notify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.chans = chans
	s.d = config.Digest{Name: "ops-daily", Schedule: "0 8 * * *", Period: "day", Language: "en", Location: shanghai,
		Cron: mustParseSpec("0 8 * * *"), Channels: []string{"hook-a", "hook-b"}, CatchUpAfter: time.Minute}
	return s
}

// service returns a scheduler instance named instance over the shared
// store, with its own registry; parts, when given, replace its builder
// or its ledger.
func (s *scheduled) service(t *testing.T, instance string, parts ...any) (*digest.Service, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	deps := digest.ServiceDeps{
		Log: s.logger, Registerer: reg, Builder: testBuilder(s.st), Ledger: s.st, Channels: s.chans, Now: s.clock.Now,
	}
	for _, p := range parts {
		switch x := p.(type) {
		case digest.ContentBuilder:
			deps.Builder = x
		case digest.Ledger:
			deps.Ledger = x
		}
	}
	svc, err := digest.NewService(digest.ServiceConfig{Digests: []config.Digest{s.d}, Instance: instance, RetryFor: time.Hour}, deps)
	if err != nil {
		t.Fatal(err)
	}
	return svc, reg
}

func (s *scheduled) rows(t *testing.T) []digest.Delivery {
	t.Helper()
	rows, err := s.st.Deliveries(context.Background(), s.d.Name, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func kinds(rows []digest.Delivery, channel string) string {
	var k []string
	for _, r := range rows {
		if r.Channel == channel {
			k = append(k, r.Kind)
		}
	}
	return strings.Join(k, ",")
}

// TestExactlyOnce runs two scheduler instances on one store, ticking at
// once and again, then a third started later (a restart): each channel
// gets the day's digest once.
func TestExactlyOnce(t *testing.T) {
	st := newStore(t)
	insertRuns(t, st, dataset())
	s := newScheduled(t, st)
	s.clock.Set(firing.Add(-time.Minute))
	one, _ := s.service(t, "replica-1")
	two, _ := s.service(t, "replica-2")
	ctx := context.Background()
	one.Tick(ctx)
	two.Tick(ctx)
	if len(s.a.got())+len(s.b.got()) != 0 {
		t.Fatal("sent before the firing")
	}
	s.clock.Set(firing.Add(30 * time.Second))
	var wg sync.WaitGroup
	for range 3 {
		for _, svc := range []*digest.Service{one, two} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				svc.Tick(ctx)
			}()
		}
		wg.Wait()
	}
	restarted, _ := s.service(t, "replica-1-restarted")
	s.clock.Set(firing.Add(5 * time.Minute))
	restarted.Tick(ctx)
	for name, r := range map[string]*hookReceiver{"hook-a": s.a, "hook-b": s.b} {
		got := r.got()
		if len(got) != 1 || got[0] != "syncwatch daily digest 2026-03-27 · ops-daily" {
			t.Errorf("%s got %q, want the digest once", name, got)
		}
		if k := kinds(s.rows(t), name); k != "claim,sent" {
			t.Errorf("%s ledger %s, want claim,sent", name, k)
		}
	}
}

// TestTakeOver leaves a claim of an instance that died before sending:
// nobody sends while its lease lasts; after, another instance takes the
// delivery over at the next generation and sends it once.
func TestTakeOver(t *testing.T) {
	st := newStore(t)
	insertRuns(t, st, dataset())
	s := newScheduled(t, st)
	s.d.Channels = []string{"hook-a"}
	ctx := context.Background()
	p := digest.PeriodBefore("day", firing, shanghai)
	dead := digest.Delivery{Digest: s.d.Name, Channel: "hook-a", PeriodStart: p.Start, PeriodEnd: p.End, Generation: 1, Kind: digest.KindClaim,
		Instance: "dead", At: firing, LeaseUntil: firing.Add(2 * time.Minute)}
	if won, err := st.ClaimDelivery(ctx, dead); err != nil || won.Instance != "dead" {
		t.Fatalf("claim: %v %+v", err, won)
	}
	svc, _ := s.service(t, "alive")
	s.clock.Set(firing.Add(time.Minute))
	svc.Tick(ctx)
	if n := len(s.a.got()); n != 0 {
		t.Fatalf("sent %d while the dead claim's lease lasted", n)
	}
	s.clock.Set(firing.Add(3 * time.Minute))
	svc.Tick(ctx)
	svc.Tick(ctx)
	if n := len(s.a.got()); n != 1 {
		t.Fatalf("sent %d after the lease, want 1", n)
	}
	rows := s.rows(t)
	if k := kinds(rows, "hook-a"); k != "claim,claim,sent" || rows[1].Generation != 2 || rows[1].Instance != "alive" {
		t.Fatalf("ledger %s: %+v", k, rows)
	}
}

// TestClaimRace has many goroutines claim the same generation at once:
// the ledger keeps one claim, and every caller is told the same winner.
func TestClaimRace(t *testing.T) {
	st := newStore(t)
	p := digest.PeriodBefore("day", firing, shanghai)
	var wg sync.WaitGroup
	winners := make([]string, 8)
	for i := range winners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := digest.Delivery{Digest: "race", Channel: "c", PeriodStart: p.Start, PeriodEnd: p.End, Generation: 1, Kind: digest.KindClaim,
				Instance: string(rune('a' + i)), At: firing.Add(time.Duration(i) * time.Millisecond), LeaseUntil: firing.Add(time.Hour)}
			won, err := st.ClaimDelivery(context.Background(), c)
			if err != nil {
				t.Error(err)
				return
			}
			winners[i] = won.Instance
		}()
	}
	wg.Wait()
	for _, w := range winners {
		if w != winners[0] {
			t.Fatalf("callers were told different winners: %q", winners)
		}
	}
	rows, err := st.Deliveries(context.Background(), "race", time.Time{})
	if err != nil || len(rows) != 1 {
		t.Fatalf("%d claims kept (%v), want 1", len(rows), err)
	}
}

// TestLateCatchUp starts a scheduler at 15:00, seven hours after the
// 08:00 firing it was down for: the day's digest goes out once, marked
// late; the day before, due more than catch_up ago, is not sent.
func TestLateCatchUp(t *testing.T) {
	st := newStore(t)
	insertRuns(t, st, dataset())
	s := newScheduled(t, st)
	s.d.Channels, s.d.CatchUpAfter = []string{"hook-a"}, 24*time.Hour
	s.clock.Set(firing.Add(7 * time.Hour))
	svc, reg := s.service(t, "late")
	svc.Tick(context.Background())
	svc.Tick(context.Background())
	got := s.a.got()
	want := "syncwatch daily digest 2026-03-27 · ops-daily (late: due 2026-03-28 08:00 CST)"
	if len(got) != 1 || got[0] != want {
		t.Fatalf("got %q, want [%q]", got, want)
	}
	rows := s.rows(t)
	if k := kinds(rows, "hook-a"); k != "claim,sent" || !rows[1].Late {
		t.Fatalf("ledger %s, late %v", k, rows[len(rows)-1].Late)
	}
	if v := metric(t, reg, "syncwatch_digest_deliveries_total", "digest", "ops-daily", "channel", "hook-a", "outcome", digest.OutcomeSentLate); v != 1 {
		t.Errorf("sent_late = %v", v)
	}
	if n, err := testutil.GatherAndCount(reg, "syncwatch_digest_deliveries_total"); err != nil || n != 5 {
		t.Errorf("%d series of syncwatch_digest_deliveries_total (%v), want 5", n, err)
	}
}

// TestRetry has the channel fail twice with 503 and then take the
// digest: the attempts are in the ledger, the health report and the
// metrics say it is failing, the retries wait the backoff, and the
// digest is sent once. A 4xx is given up at once and never retried.
func TestRetry(t *testing.T) {
	st := newStore(t)
	insertRuns(t, st, dataset())
	s := newScheduled(t, st)
	s.a.failWith(503, 503)
	s.b.failWith(404)
	svc, reg := s.service(t, "retry")
	ctx := context.Background()
	at := firing.Add(10 * time.Second)
	s.clock.Set(at)
	svc.Tick(ctx)
	h, err := svc.Health()
	if err == nil || len(h.Failing) != 2 {
		t.Fatalf("health after a failure: %v %+v", err, h)
	}
	if v := metric(t, reg, "syncwatch_digest_delivery_failing", "digest", "ops-daily", "channel", "hook-a"); v != 1 {
		t.Errorf("failing gauge %v", v)
	}
	svc.Tick(ctx) // too soon: the backoff has not passed
	if k := kinds(s.rows(t), "hook-a"); k != "claim,attempt" {
		t.Fatalf("ledger %s, want one attempt before the backoff passed", k)
	}
	for i := 1; i <= 4; i++ {
		s.clock.Set(at.Add(time.Duration(i) * 2 * time.Minute))
		svc.Tick(ctx)
	}
	if got := s.a.got(); len(got) != 1 {
		t.Fatalf("hook-a got %d digests, want 1", len(got))
	}
	if k := kinds(s.rows(t), "hook-a"); k != "claim,attempt,attempt,sent" {
		t.Errorf("hook-a ledger %s", k)
	}
	if k := kinds(s.rows(t), "hook-b"); k != "claim,gave_up" || len(s.b.got()) != 0 {
		t.Errorf("hook-b ledger %s, got %d", k, len(s.b.got()))
	}
	if v := metric(t, reg, "syncwatch_digest_deliveries_total", "digest", "ops-daily", "channel", "hook-a", "outcome", digest.OutcomeFailed); v != 2 {
		t.Errorf("failed = %v, want 2", v)
	}
	if v := metric(t, reg, "syncwatch_digest_delivery_failing", "digest", "ops-daily", "channel", "hook-a"); v != 0 {
		t.Errorf("hook-a failing gauge %v after the success", v)
	}
	if v := metric(t, reg, "syncwatch_digest_delivery_failing", "digest", "ops-daily", "channel", "hook-b"); v != 1 {
		t.Errorf("hook-b failing gauge %v after giving up", v)
	}
	if n := strings.Count(s.logs.String(), "giving up"); n != 1 {
		t.Errorf("the refusal was logged %d times, want once:\n%s", n, s.logs.String())
	}
	// A restart does not try the refused delivery again.
	again, _ := s.service(t, "retry-restarted")
	again.Tick(ctx)
	if len(s.b.got()) != 0 || kinds(s.rows(t), "hook-b") != "claim,gave_up" {
		t.Error("a refused delivery was tried again after a restart")
	}
}

// TestSkipEmpty checks that a period with nothing to say is recorded as
// skipped and not sent, unless the digest sends empty ones.
func TestSkipEmpty(t *testing.T) {
	st := newStore(t)
	s := newScheduled(t, st)
	s.d.Channels = []string{"hook-a"}
	quiet := digest.NewBuilder(st, digest.BuilderConfig{Now: s.clock.Now}) // no expected intervals: nothing missed
	svc, _ := s.service(t, "empty", quiet)
	s.clock.Set(firing.Add(time.Minute))
	svc.Tick(context.Background())
	if len(s.a.got()) != 0 || kinds(s.rows(t), "hook-a") != "claim,skipped" {
		t.Fatalf("empty period: got %d, ledger %s", len(s.a.got()), kinds(s.rows(t), "hook-a"))
	}
	s.d.Name, s.d.SendEmpty = "ops-daily-always", true
	svc2, _ := s.service(t, "empty-2", quiet)
	svc2.Tick(context.Background())
	if len(s.a.got()) != 1 {
		t.Fatalf("send_empty: got %d", len(s.a.got()))
	}
}

// TestLedgerDown checks that a scheduler whose ledger fails sends
// nothing, says so in its health and metrics, and sends once the ledger
// is back.
func TestLedgerDown(t *testing.T) {
	st := newStore(t)
	insertRuns(t, st, dataset())
	s := newScheduled(t, st)
	s.d.Channels = []string{"hook-a"}
	broken := &failingLedger{Ledger: st, fail: true}
	svc, reg := s.service(t, "flaky", digest.Ledger(broken))
	s.clock.Set(firing.Add(time.Minute))
	svc.Tick(context.Background())
	if len(s.a.got()) != 0 {
		t.Fatal("sent without a ledger")
	}
	if _, err := svc.Health(); err == nil || !strings.Contains(err.Error(), "ledger down") {
		t.Fatalf("health: %v", err)
	}
	if v := metric(t, reg, "syncwatch_digest_scheduler_errors_total", "digest", "ops-daily"); v != 1 {
		t.Errorf("scheduler errors %v", v)
	}
	broken.fail = false
	s.clock.Set(firing.Add(2 * time.Minute))
	svc.Tick(context.Background())
	if len(s.a.got()) != 1 {
		t.Fatalf("got %d once the ledger was back", len(s.a.got()))
	}
}

type failingLedger struct {
	digest.Ledger
	fail bool
}

func (f *failingLedger) Deliveries(ctx context.Context, d string, since time.Time) ([]digest.Delivery, error) {
	if f.fail {
		return nil, errLedgerDown
	}
	return f.Ledger.Deliveries(ctx, d, since)
}

var errLedgerDown = &ledgerErr{}

type ledgerErr struct{}

func (*ledgerErr) Error() string { return "ledger down" }

// metric returns the value of the series of name with the label pairs
// kv in reg, failing the test when there is none.
func metric(t *testing.T, reg *prometheus.Registry, name string, kv ...string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for i := 0; i+1 < len(kv); i += 2 {
				if labels[kv[i]] != kv[i+1] {
					continue series
				}
			}
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no series %s %v", name, kv)
	return 0
}

// TestFailingClearedByAnotherReplica has one replica fail a delivery and
// another send it: the first stops reporting it as failing once it sees
// the sent row, so the alert does not stay on an instance that gave up
// its turn.
func TestFailingClearedByAnotherReplica(t *testing.T) {
	st := newStore(t)
	insertRuns(t, st, dataset())
	s := newScheduled(t, st)
	s.d.Channels = []string{"hook-a"}
	s.a.failWith(503)
	one, reg := s.service(t, "one")
	ctx := context.Background()
	s.clock.Set(firing.Add(10 * time.Second))
	one.Tick(ctx)
	if v := metric(t, reg, "syncwatch_digest_delivery_failing", "channel", "hook-a"); v != 1 {
		t.Fatalf("failing %v after a 503", v)
	}
	// The first replica stalls; its lease ends and the second takes over.
	two, _ := s.service(t, "two")
	s.clock.Set(firing.Add(time.Hour))
	two.Tick(ctx)
	if len(s.a.got()) != 1 {
		t.Fatalf("the second replica sent %d", len(s.a.got()))
	}
	one.Tick(ctx)
	if v := metric(t, reg, "syncwatch_digest_delivery_failing", "channel", "hook-a"); v != 0 {
		t.Errorf("failing %v on the first replica after the second sent it", v)
	}
	if _, err := one.Health(); err != nil {
		t.Errorf("health of the first replica: %v", err)
	}
	if len(s.a.got()) != 1 {
		t.Errorf("sent %d times", len(s.a.got()))
	}
}
