package clickhouse

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/syncwatch/syncwatch/runs"

	"github.com/syncwatch/syncwatch/internal/testutil"
	"github.com/syncwatch/syncwatch/synclog"
)

// The trend tests compare Trends with figures computed here from the
// generated runs: days are cut with Go's calendar, quantiles and medians
// are computed by sorting, and the regression rule is applied as its
// documentation states it.

// trendRun is the final state of one generated run.
type trendRun struct {
	syncType string
	start    time.Time
	status   synclog.Status
	duration time.Duration // of a terminal run
}

// trendDataset generates runs over the days of loc from first for n days:
// products slow down on day slowDay, prices fail more on day failDay, and
// stock runs only on the last two days, so that it has no baseline. Runs
// are put at the very edges of days too. Some runs report processing and
// then their end; some deliveries are repeated.
func trendDataset(t *testing.T, first time.Time, n int, loc *time.Location, slowDay, failDay int) ([]trendRun, [][]synclog.Report) {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 11))
	var made []trendRun
	var batches [][]synclog.Report
	var batch []synclog.Report
	seq := 0
	y, m, d := first.In(loc).Date()
	received := time.Now().UTC().Add(-time.Hour)
	add := func(syncType string, start time.Time, status synclog.Status, dur time.Duration) {
		seq++
		id := fmt.Sprintf("trend-%05d", seq)
		completed := start.Add(dur)
		final := synclog.Report{
			RunID: id, EventID: id + "-end", Source: "erp", SyncType: syncType, Status: status,
			StartedAt: start, CompletedAt: &completed, TotalCount: 10, SuccessCount: 10,
		}
		if status != synclog.StatusSuccess {
			final.SuccessCount, final.FailedCount, final.Message = 4, 6, "supplier said no"
		}
		if seq%3 == 0 {
			// A lifecycle update: processing first, then the end; the
			// terminal report omits started_at in every sixth run.
			proc := synclog.Report{RunID: id, EventID: id + "-proc", Source: "erp", SyncType: syncType,
				Status: synclog.StatusProcessing, StartedAt: start}
			received = received.Add(time.Millisecond)
			proc.Normalize(received)
			batch = append(batch, proc)
			if seq%6 == 0 {
				final.StartedAt = time.Time{}
			}
		}
		received = received.Add(time.Millisecond)
		final.Normalize(received)
		batch = append(batch, final)
		made = append(made, trendRun{syncType: syncType, start: start, status: status, duration: dur})
	}
	for day := range n {
		start := time.Date(y, m, d+day, 0, 0, 0, 0, loc)
		end := time.Date(y, m, d+day+1, 0, 0, 0, 0, loc)
		span := end.Sub(start)
		// products: ~20 runs of 10-30 s, of 50-90 s on the slow day.
		for i := range 20 {
			at := start.Add(time.Duration(rng.Int64N(int64(span))))
			switch i {
			case 0:
				at = start
			case 1:
				at = end.Add(-time.Millisecond)
			}
			dur := time.Duration(10_000+rng.IntN(20_000)) * time.Millisecond
			if day == slowDay {
				dur = time.Duration(50_000+rng.IntN(40_000)) * time.Millisecond
			}
			status := synclog.StatusSuccess
			if rng.IntN(20) == 0 {
				status = synclog.StatusFailed
			}
			add("products", at, status, dur)
		}
		// prices: 10 runs of 1-3 s, 1 in 10 failing; 6 failing on the
		// fail day.
		for i := range 10 {
			at := start.Add(time.Duration(rng.Int64N(int64(span))))
			status := synclog.StatusSuccess
			if i == 0 || day == failDay && i < 6 {
				status = synclog.StatusFailed
			}
			if i == 9 && day != failDay {
				status = synclog.StatusPartial
			}
			add("prices", at, status, time.Duration(1000+rng.IntN(2000))*time.Millisecond)
		}
		if day >= n-2 {
			add("stock", start.Add(span/2), synclog.StatusSuccess, 5*time.Second)
		}
		// A run still in progress counts as a run, not as a terminal one.
		if day%4 == 0 {
			seq++
			id := fmt.Sprintf("trend-%05d", seq)
			r := synclog.Report{RunID: id, EventID: id, Source: "erp", SyncType: "products",
				Status: synclog.StatusProcessing, StartedAt: start.Add(span / 3)}
			received = received.Add(time.Millisecond)
			r.Normalize(received)
			batch = append(batch, r)
			made = append(made, trendRun{syncType: "products", start: r.StartedAt, status: synclog.StatusProcessing})
		}
		batches = append(batches, batch)
		if day%5 == 2 {
			// A retried delivery of the whole batch.
			batches = append(batches, slices.Clone(batch))
		}
		batch = nil
	}
	// A run just before the first day and one at the start of the day
	// after the last lie outside the days of the dataset.
	add("products", time.Date(y, m, d, 0, 0, 0, 0, loc).Add(-time.Millisecond), synclog.StatusSuccess, time.Hour)
	add("products", time.Date(y, m, d+n, 0, 0, 0, 0, loc), synclog.StatusFailed, time.Hour)
	batches = append(batches, batch)
	return made, batches
}

// expectTrends computes the trend points of the days [from, from+n) of
// loc with a baseline of baselineDays days.
func expectTrends(made []trendRun, from time.Time, n int, loc *time.Location, baselineDays int) []runs.TrendPoint {
	type acc struct {
		runs, terminal, success uint64
		durs                    []float64
	}
	y, m, d := from.In(loc).Date()
	dayIndex := map[string]int{}
	var days []time.Time
	for i := -baselineDays; i < n; i++ {
		s := time.Date(y, m, d+i, 0, 0, 0, 0, loc)
		dayIndex[s.Format(time.DateOnly)] = len(days)
		days = append(days, s)
	}
	accs := map[string][]acc{}
	for _, r := range made {
		i, ok := dayIndex[r.start.In(loc).Format(time.DateOnly)]
		if !ok {
			continue
		}
		if accs[r.syncType] == nil {
			accs[r.syncType] = make([]acc, len(days))
		}
		a := &accs[r.syncType][i]
		a.runs++
		if r.status.Terminal() {
			a.terminal++
			a.durs = append(a.durs, float64(r.duration.Milliseconds())/1000)
			if r.status == synclog.StatusSuccess {
				a.success++
			}
		}
	}
	var types []string
	for st := range accs {
		types = append(types, st)
	}
	sort.Strings(types)
	var out []runs.TrendPoint
	for _, st := range types {
		var ratios, p95s []*float64
		for _, a := range accs[st] {
			if a.terminal == 0 {
				ratios, p95s = append(ratios, nil), append(p95s, nil)
				continue
			}
			r := float64(a.success) / float64(a.terminal)
			s := slices.Clone(a.durs)
			sort.Float64s(s)
			p := testutil.Quantile(s, 0.95)
			ratios, p95s = append(ratios, &r), append(p95s, &p)
		}
		for i := baselineDays; i < len(days); i++ {
			a := accs[st][i]
			pt := runs.TrendPoint{SyncType: st, Day: days[i].Format(time.DateOnly), Start: days[i].UTC(),
				Runs: a.runs, Terminal: a.terminal, Success: a.success, SuccessRatio: ratios[i], DurationP95: p95s[i],
				Reasons: []string{}}
			var br, bp []float64
			for j := i - baselineDays; j < i; j++ {
				if ratios[j] != nil {
					br = append(br, *ratios[j])
					bp = append(bp, *p95s[j])
				}
			}
			pt.Baseline.Days = len(br)
			if len(br) >= min(3, baselineDays) {
				mr, mp := testutil.Median(br), testutil.Median(bp)
				pt.Baseline.SuccessRatio, pt.Baseline.DurationP95 = &mr, &mp
				if pt.DurationP95 != nil && *pt.DurationP95 > 1.5*mp && *pt.DurationP95 >= mp+1 {
					pt.Reasons = append(pt.Reasons, "duration_p95")
				}
				if pt.SuccessRatio != nil && *pt.SuccessRatio < mr-0.1 {
					pt.Reasons = append(pt.Reasons, "success_ratio")
				}
			}
			pt.Regression = len(pt.Reasons) > 0
			out = append(out, pt)
		}
	}
	return out
}

func trendNear(got, want *float64) bool {
	if got == nil || want == nil {
		return got == want
	}
	return math.Abs(*got-*want) <= 1e-9*math.Max(1, math.Abs(*want))
}

func trendFmt(p *float64) string {
	if p == nil {
		return "nil"
	}
	return fmt.Sprintf("%.6g", *p)
}

func diffTrendPoint(got, want runs.TrendPoint) string {
	var d []string
	if got.SyncType != want.SyncType || got.Day != want.Day || !got.Start.Equal(want.Start) {
		d = append(d, fmt.Sprintf("point %s %s (%s), want %s %s (%s)", got.SyncType, got.Day, got.Start, want.SyncType, want.Day, want.Start))
	}
	if got.Runs != want.Runs || got.Terminal != want.Terminal || got.Success != want.Success {
		d = append(d, fmt.Sprintf("runs/terminal/success %d/%d/%d, want %d/%d/%d", got.Runs, got.Terminal, got.Success, want.Runs, want.Terminal, want.Success))
	}
	for _, c := range []struct {
		name      string
		got, want *float64
	}{
		{"success ratio", got.SuccessRatio, want.SuccessRatio},
		{"p95", got.DurationP95, want.DurationP95},
		{"baseline success ratio", got.Baseline.SuccessRatio, want.Baseline.SuccessRatio},
		{"baseline p95", got.Baseline.DurationP95, want.Baseline.DurationP95},
	} {
		if !trendNear(c.got, c.want) {
			d = append(d, fmt.Sprintf("%s %s, want %s", c.name, trendFmt(c.got), trendFmt(c.want)))
		}
	}
	if got.Baseline.Days != want.Baseline.Days {
		d = append(d, fmt.Sprintf("baseline days %d, want %d", got.Baseline.Days, want.Baseline.Days))
	}
	if got.Regression != want.Regression || !slices.Equal(got.Reasons, want.Reasons) {
		d = append(d, fmt.Sprintf("regression %v %v, want %v %v", got.Regression, got.Reasons, want.Regression, want.Reasons))
	}
	return strings.Join(d, "; ")
}

func TestTrends(t *testing.T) {
	// Kathmandu is 5:45 ahead of UTC, so its days start at no whole hour.
	kathmandu, err := time.LoadLocation("Asia/Kathmandu")
	if err != nil {
		t.Fatal(err)
	}
	const n = 16
	first := time.Now().In(kathmandu).AddDate(0, 0, -n-2)
	slowDay, failDay := 11, 13
	made, batches := trendDataset(t, first, n, kathmandu, slowDay, failDay)
	s := newTestStore(t)
	ctx := context.Background()
	anchors := runAnchors{}
	for i, b := range batches {
		if err := s.InsertReports(ctx, anchors.apply(b)); err != nil {
			t.Fatalf("insert batch %d: %v", i, err)
		}
	}
	y, m, d := first.Date()
	dayStart := func(i int) time.Time { return time.Date(y, m, d+i, 0, 0, 0, 0, kathmandu) }

	cases := []struct {
		name         string
		since, until time.Time
		loc          *time.Location
		from, days   int // the days expected, as offsets from first
		baseline     int
	}{
		{"the days after a week of baseline", dayStart(7), dayStart(n), kathmandu, 7, n - 7, 7},
		{"a bound inside a day takes the whole day", dayStart(9).Add(5 * time.Hour), dayStart(12).Add(time.Millisecond), kathmandu, 9, 4, 7},
		{"a short baseline", dayStart(3), dayStart(n), kathmandu, 3, n - 3, 2},
		{"a baseline longer than the data", dayStart(10), dayStart(n), kathmandu, 10, n - 10, 14},
		{"utc days", dayStart(8), dayStart(n - 1), time.UTC, 0, 0, 7},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := s.Trends(ctx, c.since, c.until, c.loc, c.baseline)
			if err != nil {
				t.Fatal(err)
			}
			var want []runs.TrendPoint
			if c.loc == kathmandu {
				want = expectTrends(made, dayStart(c.from), c.days, kathmandu, c.baseline)
			} else {
				// Count the UTC days the bounds touch.
				first := c.since.UTC().Truncate(24 * time.Hour)
				days := int(c.until.Add(-time.Millisecond).UTC().Truncate(24*time.Hour).Sub(first)/(24*time.Hour)) + 1
				want = expectTrends(made, first, days, time.UTC, c.baseline)
			}
			if len(got) != len(want) {
				t.Fatalf("%d points, want %d", len(got), len(want))
			}
			regressions := 0
			for i := range want {
				if diff := diffTrendPoint(got[i], want[i]); diff != "" {
					t.Errorf("%s %s: %s", want[i].SyncType, want[i].Day, diff)
				}
				if want[i].Regression {
					regressions++
				}
			}
			t.Logf("%d points, %d regressions", len(got), regressions)
		})
	}

	t.Run("the planted regressions are found", func(t *testing.T) {
		got, err := s.Trends(ctx, dayStart(7), dayStart(n), kathmandu, 7)
		if err != nil {
			t.Fatal(err)
		}
		flagged := map[string][]string{}
		for _, p := range got {
			if p.Regression {
				flagged[p.SyncType+" "+p.Day] = p.Reasons
			}
			if p.SyncType == "stock" && (p.Baseline.DurationP95 != nil || p.Regression) {
				t.Errorf("stock %s has a baseline from %d days", p.Day, p.Baseline.Days)
			}
		}
		slow := "products " + dayStart(slowDay).Format(time.DateOnly)
		if !slices.Contains(flagged[slow], runs.TrendReasonDuration) {
			t.Errorf("the slow day %s is not flagged: %v", slow, flagged)
		}
		fail := "prices " + dayStart(failDay).Format(time.DateOnly)
		if !slices.Contains(flagged[fail], runs.TrendReasonSuccessRatio) {
			t.Errorf("the failing day %s is not flagged: %v", fail, flagged)
		}
	})

	t.Run("bad arguments", func(t *testing.T) {
		for _, c := range []struct {
			since, until time.Time
			baseline     int
		}{
			{dayStart(3), dayStart(2), 7},
			{time.Time{}, dayStart(2), 7},
			{dayStart(1), dayStart(2), 0},
			{dayStart(1), dayStart(2), runs.MaxTrendBaselineDays + 1},
			{dayStart(1), dayStart(1000), 7},
		} {
			if _, err := s.Trends(ctx, c.since, c.until, kathmandu, c.baseline); err == nil {
				t.Errorf("Trends(%s, %s, %d) did not fail", c.since, c.until, c.baseline)
			}
		}
	})
}

func TestTrendDayStarts(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	// 2025-03-09 has 23 hours in New York, 2025-11-02 has 25.
	for _, c := range []struct {
		first, last time.Time
		hours       []float64
	}{
		{time.Date(2025, 3, 8, 12, 0, 0, 0, ny), time.Date(2025, 3, 10, 1, 0, 0, 0, ny), []float64{24, 23, 24}},
		{time.Date(2025, 11, 1, 0, 0, 0, 0, ny), time.Date(2025, 11, 2, 23, 59, 0, 0, ny), []float64{24, 25}},
	} {
		starts := trendDayStarts(c.first, c.last, ny)
		var hours []float64
		for i := 1; i < len(starts); i++ {
			hours = append(hours, starts[i].Sub(starts[i-1]).Hours())
		}
		if !slices.Equal(hours, c.hours) {
			t.Errorf("days from %s to %s last %v hours, want %v", c.first, c.last, hours, c.hours)
		}
		if got := trendSlot(starts); got != 15*time.Minute {
			t.Errorf("slot %s, want 15m", got)
		}
	}
	// Monrovia was 44 minutes and 30 seconds behind UTC until 1972.
	monrovia, err := time.LoadLocation("Africa/Monrovia")
	if err != nil {
		t.Fatal(err)
	}
	starts := trendDayStarts(time.Date(1970, 1, 1, 0, 0, 0, 0, monrovia), time.Date(1970, 1, 2, 0, 0, 0, 0, monrovia), monrovia)
	if got := trendSlot(starts); got != time.Second {
		t.Errorf("slot %s for Monrovia in 1970, want 1s", got)
	}
}

func TestLastSuccesses(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	var batch []synclog.Report
	add := func(id, syncType string, status synclog.Status, start time.Time, completed time.Time) {
		r := synclog.Report{RunID: id, EventID: id, Source: "erp", SyncType: syncType, Status: status, StartedAt: start, CompletedAt: &completed}
		r.Normalize(now)
		batch = append(batch, r)
	}
	add("a", "products", synclog.StatusSuccess, now.Add(-3*time.Hour), now.Add(-2*time.Hour))
	add("b", "products", synclog.StatusSuccess, now.Add(-50*time.Hour), now.Add(-49*time.Hour))
	add("c", "products", synclog.StatusFailed, now.Add(-time.Hour), now.Add(-time.Minute))
	add("d", "prices", synclog.StatusFailed, now.Add(-time.Hour), now.Add(-time.Minute))
	add("e", "stock", synclog.StatusSuccess, now.Add(-30*24*time.Hour), now.Add(-30*24*time.Hour+time.Second))
	if err := s.InsertReports(ctx, batch); err != nil {
		t.Fatal(err)
	}
	got, err := s.LastSuccesses(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]time.Time{"products": now.Add(-2 * time.Hour), "stock": now.Add(-30*24*time.Hour + time.Second)}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if !got[k].Equal(v) {
			t.Errorf("%s: got %s, want %s", k, got[k], v)
		}
	}
}
