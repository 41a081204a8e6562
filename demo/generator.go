// Package demo simulates the sync jobs of a supplier integration and
// reports their runs to syncwatch, so that a newcomer's console,
// dashboards and alerts have something to show within seconds.
//
// The simulation runs on its own clock. Two sources, haier and jd, run the
// six sync types on their own schedules with typical durations and record
// counts. Now and then a supplier has an incident, and for a while its runs
// fail with recognisable errors: timeouts, HTTP 5xx answers, authentication
// failures and malformed payloads (some quote fake secrets, to show
// redaction). In the live part, haier's prices job slows down more and
// more after a while, haier's logistics job goes silent after a while,
// jd's prices job fails every run (an expired credential), jd's order job
// hangs after a few runs (stuck, then silent) and haier's stock job loses
// 30% of its records: every alert about sync jobs has a cause within
// minutes (README, "What the demo shows, and when").
//
// A Generator yields the simulated events in time order and is fully
// determined by its seed; Run plays them against a server at a chosen
// speed.
package demo

import (
	"container/heap"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/syncwatch/syncwatch/client"
)

// Job is one scheduled sync job of the simulated integration.
type Job struct {
	Source   string
	SyncType string
	// Every is the interval between starts (the mean interval when
	// Random).
	Every time.Duration
	// Random jobs start at random times (an operator's manual runs)
	// rather than on a schedule.
	Random bool
	// Duration is the typical length of a run.
	Duration time.Duration
	// Records bounds the number of records of a run.
	Records [2]int
	// QueueProb is the chance that a run waits in a queue first, reported
	// as pending.
	QueueProb float64
	// SlowsDown makes the job's runs longer and longer from
	// Config.SlowdownAfter on, until they take Slowdown times their
	// typical duration.
	SlowsDown bool
	// GoesSilent makes the job stop reporting a while after the start of
	// the live part.
	GoesSilent bool
	// FailsLive makes every run of the live part fail: the supplier
	// credential has expired and nobody has renewed it.
	FailsLive bool
	// HangsLive makes the job's first run from Config.HangAfter on never
	// end: it hangs, holding the job's lock, so that no other run starts.
	HangsLive bool
	// RecordFailures is the share of records that fail in each run of the
	// live part that does not fail as a whole (0 for the usual few).
	RecordFailures float64
}

// Jobs are the simulated jobs: the six sync types of haier, and a second
// source, jd, with fewer of them.
var Jobs = []Job{
	{Source: "haier", SyncType: "products", Every: 30 * time.Minute, Duration: 3 * time.Minute, Records: [2]int{800, 1500}},
	{Source: "haier", SyncType: "prices", Every: 15 * time.Minute, Duration: 50 * time.Second, Records: [2]int{2000, 3000}, SlowsDown: true},
	{Source: "haier", SyncType: "stock", Every: 5 * time.Minute, Duration: 20 * time.Second, Records: [2]int{300, 600}, RecordFailures: 0.3},
	{Source: "haier", SyncType: "order", Every: 2 * time.Minute, Duration: 5 * time.Second, Records: [2]int{0, 40}, QueueProb: 0.2},
	{Source: "haier", SyncType: "logistics", Every: 10 * time.Minute, Duration: 30 * time.Second, Records: [2]int{50, 200}, GoesSilent: true},
	{Source: "haier", SyncType: "manual", Every: 40 * time.Minute, Random: true, Duration: time.Minute, Records: [2]int{1, 50}, QueueProb: 1},
	{Source: "jd", SyncType: "products", Every: time.Hour, Duration: 4 * time.Minute, Records: [2]int{1500, 2500}},
	{Source: "jd", SyncType: "prices", Every: 30 * time.Minute, Duration: 40 * time.Second, Records: [2]int{1000, 2000}, FailsLive: true},
	{Source: "jd", SyncType: "stock", Every: 10 * time.Minute, Duration: 25 * time.Second, Records: [2]int{400, 800}},
	{Source: "jd", SyncType: "order", Every: 3 * time.Minute, Duration: 4 * time.Second, Records: [2]int{0, 30}, QueueProb: 0.2, HangsLive: true},
}

// Config shapes the simulation. Times are simulated, measured from the
// start of the live part (time 0); backfilled history has negative times.
type Config struct {
	// Seed determines everything the generator yields.
	Seed uint64
	// Jobs are the simulated jobs; the package's Jobs when nil.
	Jobs []Job
	// SilentAfter is when the jobs that go silent stop; 45 minutes when
	// zero.
	SilentAfter time.Duration
	// SlowdownAfter is when the jobs that slow down begin to;
	// DefaultSlowdownAfter when zero. The duration-regression alert
	// compares the last hour with the hours before it, so at the default
	// speed the slowdown waits for most of an hour of history.
	SlowdownAfter time.Duration
	// SlowdownPer is the time over which a slowing job's runs grow to
	// their slowest (Slowdown times their typical duration); 2 hours when
	// zero.
	SlowdownPer time.Duration
	// FirstIncident is when the first live incident of the first source
	// begins (the others follow later); 20 minutes when zero.
	FirstIncident time.Duration
	// IncidentEvery is the mean time between a source's incidents; 90
	// minutes when zero.
	IncidentEvery time.Duration
	// HangAfter is when the jobs that hang start their last run; 10
	// minutes when zero, so that they succeed a few times first.
	HangAfter time.Duration
}

func (c *Config) defaults() {
	if c.Jobs == nil {
		c.Jobs = Jobs
	}
	if c.SilentAfter == 0 {
		c.SilentAfter = 45 * time.Minute
	}
	if c.SlowdownAfter == 0 {
		c.SlowdownAfter = DefaultSlowdownAfter
	}
	if c.SlowdownPer == 0 {
		c.SlowdownPer = 2 * time.Hour
	}
	if c.FirstIncident == 0 {
		c.FirstIncident = 20 * time.Minute
	}
	if c.IncidentEvery == 0 {
		c.IncidentEvery = 90 * time.Minute
	}
	if c.HangAfter == 0 {
		c.HangAfter = 10 * time.Minute
	}
}

// DefaultSlowdownAfter is when the jobs that slow down begin to, in
// simulated time: 50 minutes of real time at the default speed.
const DefaultSlowdownAfter = 25 * time.Hour

// Slowdown is how many times its typical duration a slowing job takes at
// its slowest: haier/prices's 50 seconds become 83 minutes (about
// 2.8 minutes of real time at the default speed, above the one-minute
// floor of the duration-regression alert).
const Slowdown = 100

// Event is one thing that happens in the simulation: a report of a run, or
// a note worth telling the person watching.
type Event struct {
	// At is when the event happens.
	At time.Duration
	// Report is the report to send, nil for a note. Its StartedAt and
	// CompletedAt are zero: Start and End give them in simulated time.
	Report *client.Report
	// Start is when the run started (its first report); End when it ended
	// (for a terminal report).
	Start, End time.Duration
	// Note describes a change in the simulation, such as an incident.
	Note string
}

// Generator yields the events of the simulation in time order.
type Generator struct {
	cfg       Config
	events    eventHeap
	seq       uint64
	jobs      []*jobState
	incidents map[string]*timeline
}

type jobState struct {
	Job
	rng *rand.Rand
	// hung is set once the job's run hangs (HangsLive).
	hung bool
}

// NewGenerator returns a generator whose first events happen at from or
// later (from < 0 backfills history before the live part).
func NewGenerator(cfg Config, from time.Duration) *Generator {
	cfg.defaults()
	g := &Generator{cfg: cfg, incidents: map[string]*timeline{}}
	sources := 0
	for i, j := range cfg.Jobs {
		js := &jobState{Job: j, rng: rand.New(rand.NewPCG(cfg.Seed, uint64(i)+1))}
		g.jobs = append(g.jobs, js)
		if _, ok := g.incidents[j.Source]; !ok {
			tl := newTimeline(cfg, sources)
			g.incidents[j.Source] = tl
			first := tl.next(j.Source, from)
			g.push(item{at: first.start, incident: &first})
			sources++
		}
		// The first run comes soon, so that something happens at once.
		phase := time.Duration(js.rng.Int64N(int64(min(j.Every, 5*time.Minute))))
		g.push(item{at: from + phase, job: js})
	}
	if from <= 0 {
		g.pushNotes()
	}
	return g
}

// pushNotes schedules the notes about the live part.
func (g *Generator) pushNotes() {
	for _, j := range g.cfg.Jobs {
		if j.SlowsDown {
			at := g.cfg.SlowdownAfter
			g.push(item{at: at, ev: &Event{At: at, Note: fmt.Sprintf("%s/%s slows down from now on: its supplier throttles it, each run takes longer than the one before", j.Source, j.SyncType)}})
		}
		if j.GoesSilent {
			g.push(item{at: g.cfg.SilentAfter, ev: &Event{At: g.cfg.SilentAfter, Note: fmt.Sprintf("%s/%s goes silent: it stops reporting (its silence alert will follow)", j.Source, j.SyncType)}})
		}
		if j.FailsLive {
			g.push(item{at: 0, ev: &Event{At: 0, Note: fmt.Sprintf("%s/%s: its supplier credential has expired; every run fails from now on", j.Source, j.SyncType)}})
		}
		if j.HangsLive {
			g.push(item{at: g.cfg.HangAfter, ev: &Event{At: g.cfg.HangAfter, Note: fmt.Sprintf("%s/%s: its next run hangs and never reports its end (stuck, then silent)", j.Source, j.SyncType)}})
		}
		if j.RecordFailures > 0 {
			g.push(item{at: 0, ev: &Event{At: 0, Note: fmt.Sprintf("%s/%s: %.0f%% of its records fail from now on, in runs that end partial", j.Source, j.SyncType, 100*j.RecordFailures)}})
		}
	}
}

// Next returns the next event. The simulation never ends.
func (g *Generator) Next() Event {
	for {
		it := heap.Pop(&g.events).(item)
		switch {
		case it.ev != nil:
			return *it.ev
		case it.incident != nil:
			if ev := g.incidentEvent(it); ev != nil {
				return *ev
			}
		default:
			g.startRun(it.at, it.job)
		}
	}
}

// item is an entry of the generator's queue: an event, the next start of a
// job, or the start or end of an incident.
type item struct {
	at       time.Duration
	seq      uint64
	ev       *Event
	job      *jobState
	incident *incident
}

func (g *Generator) push(it item) {
	g.seq++
	it.seq = g.seq
	heap.Push(&g.events, it)
}

type eventHeap []item

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(item)) }
func (h *eventHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}

// startRun simulates one run of j that begins at t, queues its reports
// and the job's next start.
func (g *Generator) startRun(t time.Duration, j *jobState) {
	if (j.GoesSilent && t >= g.cfg.SilentAfter) || j.hung {
		return // the job has stopped: no more runs
	}
	rng := j.rng
	runID := fmt.Sprintf("demo-%x-%x", rng.Uint64(), rng.Uint64())
	report := func(status client.Status) *client.Report {
		return &client.Report{
			RunID: runID, EventID: fmt.Sprintf("%s-%s", runID, status), Source: j.Source, SyncType: j.SyncType,
			Status: status, Attributes: map[string]string{"host": "demo-worker-" + j.Source, "trigger": trigger(j.Job)},
		}
	}
	begin := t
	if rng.Float64() < j.QueueProb {
		g.push(item{at: t, ev: &Event{At: t, Start: t, Report: report(client.StatusPending)}})
		t += time.Duration(5+rng.IntN(55)) * time.Second
	}
	g.push(item{at: t, ev: &Event{At: t, Start: begin, Report: report(client.StatusProcessing)}})
	if j.HangsLive && begin >= g.cfg.HangAfter {
		j.hung = true
		return // no end, and no next run: the job holds its lock
	}

	o := g.outcome(t, j)
	end := t + o.duration
	final := report(o.status)
	final.Message = o.message
	final.TotalCount, final.SuccessCount, final.FailedCount = o.total, o.success, o.failed
	g.push(item{at: end, ev: &Event{At: end, Start: begin, End: end, Report: final}})

	var next time.Duration
	if j.Random {
		next = begin + time.Minute + time.Duration(rng.ExpFloat64()*float64(j.Every))
	} else {
		next = begin + time.Duration(float64(j.Every)*(0.9+0.2*rng.Float64()))
	}
	// Runs of one job never overlap (the job holds a lock).
	next = max(next, end+10*time.Second)
	g.push(item{at: next, job: j})
}

func trigger(j Job) string {
	if j.Random {
		return "operator"
	}
	return "schedule"
}

// result is how a simulated run ends.
type result struct {
	status                 client.Status
	duration               time.Duration
	total, success, failed uint64
	message                string
}

// outcome decides how a run of j that starts at t ends.
func (g *Generator) outcome(t time.Duration, j *jobState) result {
	rng := j.rng
	records := j.Records[0]
	if j.Records[1] > j.Records[0] {
		records += rng.IntN(j.Records[1] - j.Records[0] + 1)
	}
	dur := float64(j.Duration) * math.Exp(rng.NormFloat64()*0.2)
	if after := t - g.cfg.SlowdownAfter; j.SlowsDown && after > 0 {
		dur *= 1 + (Slowdown-1)*min(float64(after)/float64(g.cfg.SlowdownPer), 1)
	}
	r := result{status: client.StatusSuccess, duration: time.Duration(dur), total: uint64(records), success: uint64(records)}

	if j.FailsLive && t >= 0 {
		return g.failure(r, failAuth, j)
	}
	inc := g.incidents[j.Source].cur
	failP, partialP := 0.03, 0.08
	if inc != nil {
		failP = 0.85
	}
	if j.RecordFailures > 0 && t >= 0 && records > 0 {
		partialP = 1
	}
	switch x := rng.Float64(); {
	case x < failP:
		kind := rng.IntN(len(failureKinds))
		if inc != nil {
			kind = inc.kind
		}
		return g.failure(r, kind, j)
	case x < failP+partialP && records > 0:
		failed := 1 + rng.IntN(max(records/20, 1))
		if j.RecordFailures > 0 && t >= 0 {
			failed = max(1, int(math.Ceil(j.RecordFailures*float64(records))))
		}
		r.status = client.StatusPartial
		r.success, r.failed = uint64(records-failed), uint64(failed)
		r.message = partialMessage(rng, j.Job, failed, records)
	default:
		r.message = fmt.Sprintf("%s: %d %s synced", j.Source, records, noun(j.SyncType))
	}
	return r
}

// The kinds of failure a supplier incident brings.
const (
	failTimeout = iota
	failHTTP5xx
	failAuth
	failMalformed
)

var failureKinds = []string{"timeouts", "HTTP 5xx answers", "authentication failures", "malformed payloads"}

// failure turns r into a failed run of the given kind.
func (g *Generator) failure(r result, kind int, j *jobState) result {
	rng := j.rng
	host := "openapi." + j.Source + ".example"
	r.status = client.StatusFailed
	switch kind {
	case failTimeout:
		// The job waits for its HTTP timeout, part-way through.
		r.duration = r.duration/3 + 30*time.Second
		done := uint64(rng.IntN(int(r.total) + 1))
		r.success, r.failed = done, 0
		r.message = pick(rng,
			fmt.Sprintf("GET https://%s/v3/%s?page=%d&size=100: context deadline exceeded (Client.Timeout exceeded while awaiting headers)", host, j.SyncType, 1+rng.IntN(30)),
			fmt.Sprintf("read tcp 10.8.%d.%d:%d->203.0.113.%d:443: i/o timeout after 30s (%s sync aborted)", rng.IntN(255), rng.IntN(255), 30000+rng.IntN(30000), 1+rng.IntN(250), j.SyncType),
		)
	case failHTTP5xx:
		r.duration = time.Duration(2+rng.IntN(8)) * time.Second
		r.total, r.success = 0, 0
		r.message = pick(rng,
			fmt.Sprintf("supplier API answered 502 Bad Gateway for POST https://%s/v3/%s/query (x-request-id %016x)", host, j.SyncType, rng.Uint64()),
			fmt.Sprintf("supplier API answered 503 Service Unavailable for GET https://%s/v3/%s: upstream maintenance, retry after %ds", host, j.SyncType, 60*(1+rng.IntN(5))),
			fmt.Sprintf("HTTP 500 Internal Server Error from https://%s/router: {\"code\":\"50001\",\"msg\":\"system busy\"}", host),
		)
	case failAuth:
		r.duration = time.Duration(1+rng.IntN(3)) * time.Second
		r.total, r.success = 0, 0
		r.message = pick(rng,
			fmt.Sprintf("authentication failed: POST https://%s/oauth/token client_id=shop-prod client_secret=%016x returned 401 invalid_client", host, rng.Uint64()),
			fmt.Sprintf("401 Unauthorized from %s: request header Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzaG9wLSVkIn0.%x was rejected: token expired", host, rng.Uint64()),
			fmt.Sprintf("login to the %s supplier portal failed for user sync-bot password=Spring%d! (403 Forbidden)", j.Source, 2020+rng.IntN(6)),
		)
	default:
		r.duration = r.duration / 2
		bad := 1 + rng.IntN(max(int(r.total)/10, 1))
		r.success, r.failed = 0, uint64(bad)
		r.total = max(r.total, r.failed)
		r.message = pick(rng,
			fmt.Sprintf("malformed payload from %s: json: cannot unmarshal string into Go struct field Item.price of type float64 (sku %s-%05d, offset %d)", j.Source, skuPrefix(j.Source), rng.IntN(100000), 1000+rng.IntN(90000)),
			fmt.Sprintf("malformed payload from %s: unexpected end of JSON input after %d bytes (page %d)", j.Source, 4096*(1+rng.IntN(64)), 1+rng.IntN(40)),
			fmt.Sprintf("malformed payload from %s: XML syntax error on line %d: unexpected EOF", j.Source, 1+rng.IntN(5000)),
		)
	}
	return r
}

func partialMessage(rng *rand.Rand, j Job, failed, total int) string {
	return pick(rng,
		fmt.Sprintf("%d of %d %s rejected: missing price for SKU %s-%05d%s", failed, total, noun(j.SyncType), skuPrefix(j.Source), rng.IntN(100000), more(failed-1)),
		fmt.Sprintf("%d of %d %s skipped: quantity below zero in warehouse WH-%02d", failed, total, noun(j.SyncType), 1+rng.IntN(40)),
		fmt.Sprintf("%d of %d %s failed validation: field barcode is empty", failed, total, noun(j.SyncType)),
	)
}

// skuPrefix is the prefix of a source's article numbers.
func skuPrefix(source string) string {
	if len(source) < 2 {
		return "SKU"
	}
	return strings.ToUpper(source[:2])
}

// more says how many further records failed, if any.
func more(n int) string {
	if n <= 0 {
		return ""
	}
	return fmt.Sprintf(" and %d more", n)
}

func noun(syncType string) string {
	switch syncType {
	case "products":
		return "products"
	case "prices":
		return "prices"
	case "stock":
		return "stock levels"
	case "order":
		return "orders"
	case "logistics":
		return "shipments"
	}
	return "records"
}

func pick(rng *rand.Rand, options ...string) string { return options[rng.IntN(len(options))] }

// incident is a period in which a source's runs mostly fail.
type incident struct {
	source     string
	start, end time.Duration
	kind       int
}

// timeline makes the incidents of one source, one after the other.
type timeline struct {
	cfg   Config
	rng   *rand.Rand
	first time.Duration
	live  bool
	// cur is the incident going on, nil between incidents.
	cur *incident
}

func newTimeline(cfg Config, index int) *timeline {
	return &timeline{
		cfg: cfg,
		rng: rand.New(rand.NewPCG(cfg.Seed, 1000+uint64(index))),
		// The sources' first live incidents are half an hour apart.
		first: cfg.FirstIncident + time.Duration(index)*30*time.Minute,
	}
}

// next returns the incident of source that follows one that ended at
// after.
func (tl *timeline) next(source string, after time.Duration) incident {
	start := after + time.Duration((0.3+tl.rng.ExpFloat64())*float64(tl.cfg.IncidentEvery)).Round(time.Second)
	if !tl.live && start >= 0 {
		// The live part gets its first incident soon, at a known time.
		start = max(after, tl.first)
		tl.live = true
	}
	length := time.Duration(8+tl.rng.IntN(13)) * time.Minute
	return incident{source: source, start: start, end: start + length, kind: tl.rng.IntN(len(failureKinds))}
}

// incidentEvent handles the start or the end of an incident.
func (g *Generator) incidentEvent(it item) *Event {
	tl := g.incidents[it.incident.source]
	inc := it.incident
	if it.at == inc.start {
		tl.cur = inc
		g.push(item{at: inc.end, incident: inc})
		if it.at < 0 {
			return nil
		}
		return &Event{At: it.at, Note: fmt.Sprintf("%s: supplier incident begins, %s for the next %s",
			inc.source, failureKinds[inc.kind], strings.TrimSuffix((inc.end-inc.start).Round(time.Minute).String(), "0s"))}
	}
	tl.cur = nil
	next := tl.next(inc.source, inc.end)
	g.push(item{at: next.start, incident: &next})
	if it.at < 0 {
		return nil
	}
	return &Event{At: it.at, Note: fmt.Sprintf("%s: supplier incident over", inc.source)}
}
