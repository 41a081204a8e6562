package runs_test

import (
	"encoding/json"
	"testing"

	"github.com/syncwatch/syncwatch/runs"
)

// TestFingerprintNotation checks that fingerprints are written as 16
// lowercase hexadecimal digits and read from that notation or, as
// ClickHouse's rows hold them, from a number.
func TestFingerprintNotation(t *testing.T) {
	for _, c := range []struct {
		name string
		in   string
		want runs.Fingerprint
		out  string
		bad  bool
	}{
		{name: "hex", in: `"00c0ffee12345678"`, want: 0xc0ffee12345678, out: `"00c0ffee12345678"`},
		{name: "upper hex", in: `"FFFFFFFFFFFFFFFF"`, want: 1<<64 - 1, out: `"ffffffffffffffff"`},
		{name: "clickhouse number", in: `54210108624275221`, want: 54210108624275221, out: `"00c097ce7bc90715"`},
		{name: "zero", in: `0`, want: 0, out: `"0000000000000000"`},
		{name: "too long", in: `"10000000000000000"`, bad: true},
		{name: "not hex", in: `"xyz"`, bad: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got struct {
				F runs.Fingerprint `json:"f"`
			}
			err := json.Unmarshal([]byte(`{"f":`+c.in+`}`), &got)
			if c.bad {
				if err == nil {
					t.Fatalf("%s read as %v, want an error", c.in, got.F)
				}
				return
			}
			if err != nil || got.F != c.want {
				t.Fatalf("%s read as %v (%v), want %v", c.in, got.F, err, c.want)
			}
			b, _ := json.Marshal(got)
			if string(b) != `{"f":`+c.out+`}` {
				t.Errorf("written as %s, want %s", b, c.out)
			}
		})
	}
}
