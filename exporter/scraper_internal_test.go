package exporter

import (
	"math"
	"testing"
)

// Folding sources adds record sums; the result is capped rather than
// wrapped around, as ClickHouse caps each sum.
func TestMergeWindowCapsRecordSums(t *testing.T) {
	m := WindowStat{RecordsTotal: math.MaxUint64 - 1, RecordsSuccess: 5}
	mergeWindow(&m, WindowStat{RecordsTotal: 10, RecordsSuccess: 7})
	if m.RecordsTotal != math.MaxUint64 || m.RecordsSuccess != 12 {
		t.Errorf("records total %d, success %d; want the cap and 12", m.RecordsTotal, m.RecordsSuccess)
	}
}
