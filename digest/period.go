package digest

import (
	"fmt"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/syncwatch/syncwatch/config"
)

// Period is the span of time one digest reports: a calendar day, an ISO
// week (Monday to Sunday) or a calendar month in the digest's time zone,
// so that a day across a change of daylight saving time lasts 23 or 25
// hours.
type Period struct {
	Kind  string    `json:"kind"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Label names the period: 2026-03-28, 2026-W13 or 2026-03.
	Label string `json:"label"`
}

// PeriodBefore returns the last complete period of kind that ends at or
// before t, in loc.
func PeriodBefore(kind string, t time.Time, loc *time.Location) Period {
	l := t.In(loc)
	y, m, d := l.Date()
	midnight := time.Date(y, m, d, 0, 0, 0, 0, loc)
	var start, end time.Time
	switch kind {
	case config.PeriodWeek:
		back := (int(midnight.Weekday()) + 6) % 7 // days since Monday
		end = time.Date(y, m, d-back, 0, 0, 0, 0, loc)
		start = time.Date(y, m, d-back-7, 0, 0, 0, 0, loc)
	case config.PeriodMonth:
		end = time.Date(y, m, 1, 0, 0, 0, 0, loc)
		start = time.Date(y, m-1, 1, 0, 0, 0, 0, loc)
	default:
		end = midnight
		start = time.Date(y, m, d-1, 0, 0, 0, 0, loc)
	}
	return newPeriod(kind, start, end)
}

// PeriodContaining returns the period of kind that holds t, in loc.
func PeriodContaining(kind string, t time.Time, loc *time.Location) Period {
	p := PeriodBefore(kind, t, loc)
	next := PeriodBefore(kind, nextStart(kind, p.End), loc)
	return next
}

// nextStart returns an instant inside the period after the one that
// starts at start: far enough that PeriodBefore of it ends at the next
// period's end.
func nextStart(kind string, start time.Time) time.Time {
	y, m, d := start.Date()
	switch kind {
	case config.PeriodWeek:
		return time.Date(y, m, d+7, 12, 0, 0, 0, start.Location())
	case config.PeriodMonth:
		return time.Date(y, m+1, 1, 12, 0, 0, 0, start.Location())
	}
	return time.Date(y, m, d+1, 12, 0, 0, 0, start.Location())
}

// Previous returns the period before p.
func (p Period) Previous() Period { return PeriodBefore(p.Kind, p.Start, p.Start.Location()) }

func newPeriod(kind string, start, end time.Time) Period {
	p := Period{Kind: kind, Start: start, End: end}
	switch kind {
	case config.PeriodWeek:
		y, w := start.ISOWeek()
		p.Label = fmt.Sprintf("%d-W%02d", y, w)
	case config.PeriodMonth:
		p.Label = start.Format("2006-01")
	default:
		p.Label = start.Format(time.DateOnly)
	}
	return p
}

// Firings returns the instants in (from, to] at which sched fires, read
// in loc. As cron does, a wall-clock time that a change to daylight
// saving time leaves out is skipped that day, and a time that the change
// back repeats fires once, unless the schedule fires every hour.
func Firings(sched cron.Schedule, loc *time.Location, from, to time.Time) []time.Time {
	var out []time.Time
	t := from.In(loc)
	var last string
	for {
		next := sched.Next(t)
		if next.IsZero() || next.After(to) {
			return out
		}
		t = next
		wall := next.Format("2006-01-02 15:04")
		if wall == last && !everyHour(sched) {
			continue
		}
		last = wall
		out = append(out, next)
	}
}

// everyHour reports whether sched fires in every hour of the day.
func everyHour(sched cron.Schedule) bool {
	s, ok := sched.(*cron.SpecSchedule)
	return ok && s.Hour&(1<<24-1) == 1<<24-1
}

// Due is one period a digest owes, with the firing that made it due.
type Due struct {
	Period Period
	// At is the first firing at or after the period's end.
	At time.Time
}

// DuePeriods returns the periods of d whose first firing after their end
// lies in (from, to], oldest first.
func DuePeriods(d *config.Digest, from, to time.Time) []Due {
	var out []Due
	seen := map[time.Time]bool{}
	for _, f := range Firings(d.Cron, d.Location, from, to) {
		p := PeriodBefore(d.Period, f, d.Location)
		if seen[p.Start] {
			continue
		}
		seen[p.Start] = true
		// The period is due at its first firing at or after its end,
		// which lies before from when several firings fall in one
		// period: then it was owed before the window.
		first := d.Cron.Next(p.End.Add(-time.Nanosecond).In(d.Location))
		if !first.After(from) {
			continue
		}
		out = append(out, Due{Period: p, At: first})
	}
	return out
}
