package api

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/syncwatch/syncwatch/runs"
	"github.com/syncwatch/syncwatch/web"

	"github.com/gin-gonic/gin"
)

// csvCell neutralises a cell that a spreadsheet would read as a formula.
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// WriteCSV writes a header and rows as RFC 4180 CSV.
func WriteCSV(c *gin.Context, filename string, header []string, rows [][]string) {
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Header("Content-Disposition", `attachment; filename="`+filename+`"`)
	c.Status(http.StatusOK)
	w := csv.NewWriter(c.Writer)
	w.UseCRLF = true
	cells := make([]string, len(header))
	_ = w.Write(header)
	for _, r := range rows {
		for i, v := range r {
			cells[i] = csvCell(v)
		}
		_ = w.Write(cells[:len(r)])
	}
	w.Flush()
	if err := w.Error(); err != nil {
		web.Log(c).WithError(err).Warn("writing csv")
	}
}

func fmtFloat(p *float64) string {
	if p == nil {
		return ""
	}
	return strconv.FormatFloat(*p, 'f', -1, 64)
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// RunCSVHeader is the header of the run list as CSV.
var RunCSVHeader = []string{"run_id", "event_id", "source", "sync_type", "status", "message", "fingerprint",
	"total_count", "success_count", "failed_count", "started_at", "completed_at", "duration_ms", "received_at", "attributes"}

// RunCSVRows renders runs as rows under RunCSVHeader.
func RunCSVRows(list []runs.Run) [][]string {
	rows := make([][]string, len(list))
	for i, r := range list {
		dur := ""
		if r.DurationMS != nil {
			dur = strconv.FormatInt(*r.DurationMS, 10)
		}
		attrs, _ := json.Marshal(r.Attributes)
		rows[i] = []string{r.RunID, r.EventID, r.Source, r.SyncType, string(r.Status), r.Message,
			r.Fingerprint.String(), strconv.FormatUint(r.TotalCount, 10),
			strconv.FormatUint(r.SuccessCount, 10), strconv.FormatUint(r.FailedCount, 10),
			fmtTime(&r.StartedAt), fmtTime(r.CompletedAt), dur, fmtTime(&r.ReceivedAt), string(attrs)}
	}
	return rows
}

// DailyCSVHeader is the header of the daily report as CSV.
var DailyCSVHeader = []string{"sync_type", "runs", "success", "failed", "partial", "success_rate", "records",
	"duration_avg_seconds", "duration_p95_seconds",
	"previous_runs", "previous_success_rate", "previous_duration_p95_seconds",
	"change_runs", "change_success_rate",
	"seven_day_avg_runs", "seven_day_success_rate", "seven_day_avg_records", "seven_day_duration_p95_seconds"}

// DailyCSVRows renders the daily report as rows under DailyCSVHeader.
func DailyCSVRows(rows []runs.DailyRow) [][]string {
	n := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	out := make([][]string, len(rows))
	for i, r := range rows {
		out[i] = []string{r.SyncType, n(r.Day.Runs), n(r.Day.Success), n(r.Day.Failed), n(r.Day.Partial),
			fmtFloat(r.Day.SuccessRate), n(r.Day.Records), fmtFloat(r.Day.DurationAvg), fmtFloat(r.Day.DurationP95),
			n(r.Previous.Runs), fmtFloat(r.Previous.SuccessRate), fmtFloat(r.Previous.DurationP95),
			n(r.ChangeRuns), fmtFloat(r.ChangeSuccessRate),
			n(r.SevenDay.Runs), fmtFloat(r.SevenDay.SuccessRate), n(r.SevenDay.Records), fmtFloat(r.SevenDay.DurationP95)}
	}
	return out
}

// dailyMarkdown renders the daily report as a Markdown table.
func dailyMarkdown(r DailyReportResponse) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Daily sync report %s (%s)\n\n", r.Date, r.TZ)
	if len(r.SyncTypes) == 0 {
		b.WriteString("No runs in the day or the seven days before it.\n")
		return b.String()
	}
	pct := func(p *float64) string {
		if p == nil {
			return "–"
		}
		return strconv.FormatFloat(*p*100, 'f', 1, 64) + "%"
	}
	secs := func(p *float64) string {
		if p == nil {
			return "–"
		}
		return strconv.FormatFloat(*p, 'f', 1, 64) + " s"
	}
	signed := func(v float64, unit string) string {
		s := strconv.FormatFloat(v, 'f', 1, 64)
		if v > 0 {
			s = "+" + s
		}
		return strings.TrimSuffix(s, ".0") + unit
	}
	b.WriteString("| Sync type | Runs | Success | Failed | Partial | Success rate | Records | Avg duration | P95 duration | Runs vs previous day | Success rate vs previous day | 7-day avg runs | 7-day success rate |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, row := range r.SyncTypes {
		change := "–"
		if row.ChangeSuccessRate != nil {
			change = signed(*row.ChangeSuccessRate*100, " pp")
		}
		fmt.Fprintf(&b, "| %s | %.0f | %.0f | %.0f | %.0f | %s | %.0f | %s | %s | %s | %s | %.1f | %s |\n",
			strings.ReplaceAll(row.SyncType, "|", `\|`), row.Day.Runs, row.Day.Success, row.Day.Failed, row.Day.Partial,
			pct(row.Day.SuccessRate), row.Day.Records, secs(row.Day.DurationAvg), secs(row.Day.DurationP95),
			signed(row.ChangeRuns, ""), change, row.SevenDay.Runs, pct(row.SevenDay.SuccessRate))
	}
	return b.String()
}
