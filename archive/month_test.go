package archive

import (
	"strings"
	"testing"
	"time"
)

func TestParseMonth(t *testing.T) {
	for _, c := range []struct {
		in, want, err string
	}{
		{"2026-01", "2026-01", ""},
		{"1970-12", "1970-12", ""},
		{"2026-13", "", `month "2026-13": want YYYY-MM with a month 01..12`},
		{"2026-00", "", "01..12"},
		{"1969-12", "", "from 1970 on"},
		{"2026-1", "", "want YYYY-MM"},
		{"2026-01-01", "", "want YYYY-MM"},
		{" 2026-01", "", "want YYYY-MM"},
		{"", "", "want YYYY-MM"},
		{"2026/01", "", "want YYYY-MM"},
		{"２０２６-01", "", "want YYYY-MM"},
	} {
		t.Run(c.in, func(t *testing.T) {
			m, err := ParseMonth(c.in)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("ParseMonth(%q) = %v, %v; want an error with %q", c.in, m, err, c.err)
				}
				return
			}
			if err != nil || m.String() != c.want {
				t.Fatalf("ParseMonth(%q) = %v, %v", c.in, m, err)
			}
		})
	}
	m, _ := ParseMonth("2026-12")
	if m.PartitionID() != "202612" || !m.End().Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) || MonthOf(m.End().Add(-time.Nanosecond)) != m {
		t.Errorf("2026-12: partition %s, end %s", m.PartitionID(), m.End())
	}
}

// FuzzParseMonth checks that whatever ParseMonth accepts is a month that
// prints back as the input and names a six-digit partition.
func FuzzParseMonth(f *testing.F) {
	for _, s := range []string{"2026-01", "2026-13", "0000-00", "9999-12", "2026-1", "x", "", "2026-01\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMonth(s)
		if err != nil {
			if !strings.Contains(err.Error(), "month") {
				t.Fatalf("error does not name the month: %v", err)
			}
			return
		}
		if m.String() != s || len(m.PartitionID()) != 6 || m.Start.Day() != 1 || m.Start.Location() != time.UTC {
			t.Fatalf("ParseMonth(%q) = %v (partition %s)", s, m, m.PartitionID())
		}
	})
}
