package digest_test

import (
	"testing"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/syncwatch/syncwatch/config"
	"github.com/syncwatch/syncwatch/digest"
)

func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// TestPeriodBefore checks the periods digests cover in several zones,
// across the changes of daylight saving time, weeks and years.
func TestPeriodBefore(t *testing.T) {
	tests := []struct {
		name, zone, kind string
		at               string // local wall time
		start, end       string // local wall times
		hours            float64
		label            string
	}{
		{"day", "Asia/Shanghai", "day", "2026-03-28 08:00", "2026-03-27 00:00", "2026-03-28 00:00", 24, "2026-03-27"},
		{"day at midnight", "Asia/Shanghai", "day", "2026-03-28 00:00", "2026-03-27 00:00", "2026-03-28 00:00", 24, "2026-03-27"},
		{"day of 23 hours (Berlin spring forward)", "Europe/Berlin", "day", "2026-03-30 08:00", "2026-03-29 00:00", "2026-03-30 00:00", 23, "2026-03-29"},
		{"day of 25 hours (Berlin fall back)", "Europe/Berlin", "day", "2026-10-26 08:00", "2026-10-25 00:00", "2026-10-26 00:00", 25, "2026-10-25"},
		{"day of 23 hours (New York)", "America/New_York", "day", "2026-03-09 07:00", "2026-03-08 00:00", "2026-03-09 00:00", 23, "2026-03-08"},
		{"day of 23.5 hours (Lord Howe)", "Australia/Lord_Howe", "day", "2026-10-05 09:00", "2026-10-04 00:00", "2026-10-05 00:00", 23.5, "2026-10-04"},
		{"day in a quarter-hour zone", "Asia/Kathmandu", "day", "2026-03-28 08:00", "2026-03-27 00:00", "2026-03-28 00:00", 24, "2026-03-27"},
		{"week across spring forward", "Europe/Berlin", "week", "2026-04-01 09:00", "2026-03-23 00:00", "2026-03-30 00:00", 167, "2026-W13"},
		{"week fired on a Monday", "UTC", "week", "2026-03-30 00:00", "2026-03-23 00:00", "2026-03-30 00:00", 168, "2026-W13"},
		{"week fired on a Sunday", "UTC", "week", "2026-03-29 23:00", "2026-03-16 00:00", "2026-03-23 00:00", 168, "2026-W12"},
		{"ISO week of the year before", "UTC", "week", "2027-01-06 08:00", "2026-12-28 00:00", "2027-01-04 00:00", 168, "2026-W53"},
		{"month", "Asia/Shanghai", "month", "2026-03-01 08:00", "2026-02-01 00:00", "2026-03-01 00:00", 28 * 24, "2026-02"},
		{"month across the year", "America/New_York", "month", "2026-01-01 09:00", "2025-12-01 00:00", "2026-01-01 00:00", 31 * 24, "2025-12"},
		{"month with spring forward", "Europe/Berlin", "month", "2026-04-15 09:00", "2026-03-01 00:00", "2026-04-01 00:00", 31*24 - 1, "2026-03"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			loc := zone(t, tc.zone)
			at := mustLocal(t, tc.at, loc)
			p := digest.PeriodBefore(tc.kind, at, loc)
			if !p.Start.Equal(mustLocal(t, tc.start, loc)) || !p.End.Equal(mustLocal(t, tc.end, loc)) {
				t.Fatalf("period %s – %s, want %s – %s", p.Start, p.End, tc.start, tc.end)
			}
			if h := p.End.Sub(p.Start).Hours(); h != tc.hours {
				t.Errorf("%v hours, want %v", h, tc.hours)
			}
			if p.Label != tc.label {
				t.Errorf("label %s, want %s", p.Label, tc.label)
			}
			prev := p.Previous()
			if !prev.End.Equal(p.Start) || !prev.Start.Before(prev.End) {
				t.Errorf("previous %s – %s does not end where %s starts", prev.Start, prev.End, p.Start)
			}
			if c := digest.PeriodContaining(tc.kind, p.Start.Add(time.Minute), loc); !c.Start.Equal(p.Start) || !c.End.Equal(p.End) {
				t.Errorf("containing %s – %s", c.Start, c.End)
			}
		})
	}
}

func mustLocal(t *testing.T, s string, loc *time.Location) time.Time {
	t.Helper()
	v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// TestFirings checks schedules read in their zone, across the changes of
// daylight saving time: a wall-clock time the change leaves out is
// skipped that day, one it repeats fires once.
func TestFirings(t *testing.T) {
	tests := []struct {
		name, spec, zone, from, to string
		want                       []string // UTC
	}{
		{"08:00 in Shanghai is midnight UTC", "0 8 * * *", "Asia/Shanghai", "2026-03-27 00:00", "2026-03-29 00:00",
			[]string{"2026-03-27T00:00:00Z", "2026-03-28T00:00:00Z"}},
		{"08:00 in Berlin moves an hour in UTC", "0 8 * * *", "Europe/Berlin", "2026-03-28 00:00", "2026-03-31 00:00",
			[]string{"2026-03-28T07:00:00Z", "2026-03-29T06:00:00Z", "2026-03-30T06:00:00Z"}},
		{"02:30 in Berlin does not exist on the spring-forward day", "30 2 * * *", "Europe/Berlin", "2026-03-28 00:00", "2026-03-31 00:00",
			[]string{"2026-03-28T01:30:00Z", "2026-03-30T00:30:00Z"}},
		{"02:30 in Berlin happens twice on the fall-back day, fires once", "30 2 * * *", "Europe/Berlin", "2026-10-24 00:00", "2026-10-27 00:00",
			[]string{"2026-10-24T00:30:00Z", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"}},
		{"hourly across New York's fall back", "0 * * * *", "America/New_York", "2026-11-01 00:30", "2026-11-01 03:00",
			[]string{"2026-11-01T05:00:00Z", "2026-11-01T06:00:00Z", "2026-11-01T07:00:00Z", "2026-11-01T08:00:00Z"}},
		{"weekly on Monday 09:00 in Tokyo", "0 9 * * 1", "Asia/Tokyo", "2026-03-20 00:00", "2026-04-07 00:00",
			[]string{"2026-03-23T00:00:00Z", "2026-03-30T00:00:00Z", "2026-04-06T00:00:00Z"}},
		{"monthly on the 1st in Kathmandu", "@monthly", "Asia/Kathmandu", "2026-01-15 00:00", "2026-03-15 00:00",
			[]string{"2026-01-31T18:15:00Z", "2026-02-28T18:15:00Z"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			loc := zone(t, tc.zone)
			s, err := parser.Parse(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			got := digest.Firings(s, loc, mustLocal(t, tc.from, loc), mustLocal(t, tc.to, loc))
			var gs []string
			for _, f := range got {
				gs = append(gs, f.UTC().Format(time.RFC3339))
			}
			if len(gs) != len(tc.want) {
				t.Fatalf("firings %v, want %v", gs, tc.want)
			}
			for i := range gs {
				if gs[i] != tc.want[i] {
					t.Fatalf("firings %v, want %v", gs, tc.want)
				}
			}
		})
	}
}

// TestDuePeriods checks which periods a digest owes in a window: one per
// period however many firings fall in it, none whose first firing lies
// before the window.
func TestDuePeriods(t *testing.T) {
	sh := zone(t, "Asia/Shanghai")
	daily := &config.Digest{Name: "d", Period: "day", Location: sh, Cron: mustParse(t, "0 8 * * *")}
	hourly := &config.Digest{Name: "h", Period: "day", Location: sh, Cron: mustParse(t, "0 * * * *")}
	weekly := &config.Digest{Name: "w", Period: "week", Location: sh, Cron: mustParse(t, "0 9 * * 1")}
	tests := []struct {
		name     string
		d        *config.Digest
		from, to string
		want     []string // period labels
		at       []string // due, local
	}{
		{"one day", daily, "2026-03-28 07:00", "2026-03-28 09:00", []string{"2026-03-27"}, []string{"2026-03-28 08:00"}},
		{"before the firing", daily, "2026-03-28 07:00", "2026-03-28 07:59", nil, nil},
		{"three days down", daily, "2026-03-25 09:00", "2026-03-28 09:00", []string{"2026-03-25", "2026-03-26", "2026-03-27"}, []string{"2026-03-26 08:00", "2026-03-27 08:00", "2026-03-28 08:00"}},
		{"hourly schedule owes the day once, at midnight", hourly, "2026-03-27 23:30", "2026-03-28 10:00", []string{"2026-03-27"}, []string{"2026-03-28 00:00"}},
		{"hourly schedule after midnight: already owed", hourly, "2026-03-28 00:30", "2026-03-28 10:00", nil, nil},
		{"weekly", weekly, "2026-03-29 00:00", "2026-03-31 00:00", []string{"2026-W13"}, []string{"2026-03-30 09:00"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			due := digest.DuePeriods(tc.d, mustLocal(t, tc.from, sh), mustLocal(t, tc.to, sh))
			if len(due) != len(tc.want) {
				t.Fatalf("%d due, want %v: %+v", len(due), tc.want, due)
			}
			for i, d := range due {
				if d.Period.Label != tc.want[i] || !d.At.Equal(mustLocal(t, tc.at[i], sh)) {
					t.Errorf("due %s at %s, want %s at %s", d.Period.Label, d.At, tc.want[i], tc.at[i])
				}
			}
		})
	}
}

func mustParse(t *testing.T, spec string) cron.Schedule {
	t.Helper()
	s, err := parser.Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
