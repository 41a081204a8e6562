package clickhouse

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/syncwatch/syncwatch/synclog"
)

// What makes collector replicas interchangeable (ARCHITECTURE.md,
// "Replicas"): the store, not the collector that took a report, decides
// under which start a run is kept and whether a report is already stored.
//
//   - A run's anchor, the start that keys it in the runs table, is the
//     earliest start any of its reports gave: a function of the run's
//     reports, not of the order in which they came or of the replica that
//     took them.
//   - Before a batch is inserted, the keys of its runs already stored are
//     read from report_keys (a point look-up per run): a report already
//     stored, because a retry reached another replica, is not stored
//     again; the run's anchor is the earliest of those stored and those
//     in the batch; a report naming a run of another source is refused.
//   - Two replicas that take reports of one new run before either has
//     inserted them cannot see each other: each may store the run under
//     the start it knows. After every insert the store looks for runs of
//     the batch stored under two anchors, and moves the later ones to the
//     earliest (mendSplitRuns). Whichever replica inserts last sees both,
//     so every split is mended by the replica that made it or by the
//     other.

// storedRun is what report_keys holds of one run.
type storedRun struct {
	// anchor is the earliest anchor the run is stored under.
	anchor time.Time
	// source is the source of the run's earliest stored report.
	source string
	// events are the event ids stored.
	events map[string]bool
}

// lookUpRuns returns what report_keys holds of the runs ids.
func (s *Store) lookUpRuns(ctx context.Context, ids []string) (map[string]*storedRun, error) {
	out, err := s.eng.selectRows(ctx, `SELECT run_id, event_id, run_started_at, toString(source) AS source
FROM report_keys WHERE run_id IN {ids:Array(String)}
ORDER BY run_id, run_started_at, received_at, event_id`, Params{"ids": ids})
	if err != nil {
		return nil, fmt.Errorf("look up %d stored runs: %w", len(ids), err)
	}
	rows, err := decodeRows[struct {
		RunID        string    `json:"run_id"`
		EventID      string    `json:"event_id"`
		RunStartedAt time.Time `json:"run_started_at"`
		Source       string    `json:"source"`
	}](out)
	if err != nil {
		return nil, fmt.Errorf("decode stored runs: %w", err)
	}
	found := make(map[string]*storedRun)
	for _, r := range rows {
		st := found[r.RunID]
		if st == nil {
			// Rows come earliest anchor first.
			st = &storedRun{anchor: r.RunStartedAt.UTC(), source: r.Source, events: map[string]bool{}}
			found[r.RunID] = st
		}
		st.events[r.EventID] = true
	}
	return found, nil
}

// RunConflictError says that reports name a run that belongs to another
// source. The collector refuses such a report (409) when it knows the
// run; when only another replica knew it, the store finds out and the
// batcher sets the report aside in the quarantine. It is permanent.
type RunConflictError struct {
	// Reports are "event_id (run run_id, source source)" of each report.
	Reports []string
}

// Error lists the reports.
func (e *RunConflictError) Error() string {
	return fmt.Sprintf("%d reports name a run of another source: %s", len(e.Reports), strings.Join(e.Reports, ", "))
}

// Permanent reports true: the same reports would be refused again.
func (e *RunConflictError) Permanent() bool { return true }

// reconcile turns reports into the rows to insert, given what is stored
// of their runs: every row of a run carries the run's anchor, the
// earliest start stored or reported; reports already stored, or repeated
// within the batch, are left out. It returns the reports that name a run
// of another source apart.
func reconcile(reports []synclog.Report, stored map[string]*storedRun) ([]reportRow, []synclog.Report) {
	type batchRun struct {
		anchor time.Time
		source string
	}
	byRun := make(map[string]*batchRun)
	for i := range reports {
		r := &reports[i]
		br := byRun[r.RunID]
		if br == nil {
			br = &batchRun{source: r.Source}
			if st := stored[r.RunID]; st != nil {
				br.anchor, br.source = st.anchor, st.source
			}
			byRun[r.RunID] = br
		}
		if r.Source != br.source {
			continue
		}
		// The start the report gave, and the one the collector that took
		// it knew for the run: both are starts the run's reports gave.
		for _, t := range [2]time.Time{r.StartedAt, r.RunStartedAt} {
			if t.IsZero() {
				continue
			}
			t = t.UTC().Truncate(time.Millisecond)
			if br.anchor.IsZero() || t.Before(br.anchor) {
				br.anchor = t
			}
		}
	}
	rows := make([]reportRow, 0, len(reports))
	var conflicts []synclog.Report
	seen := make(map[[2]string]bool, len(reports))
	for i := range reports {
		r := &reports[i]
		br := byRun[r.RunID]
		if r.Source != br.source {
			conflicts = append(conflicts, *r)
			continue
		}
		key := [2]string{r.RunID, r.EventID}
		if seen[key] {
			continue
		}
		seen[key] = true
		if st := stored[r.RunID]; st != nil && st.events[r.EventID] {
			continue
		}
		rows = append(rows, newReportRow(r, br.anchor))
	}
	return rows, conflicts
}

// newReportRow is report r as a row of the reports table, anchored at
// anchor.
func newReportRow(r *synclog.Report, anchor time.Time) reportRow {
	row := reportRow{
		EventID: r.EventID, RunID: r.RunID, Source: r.Source, SyncType: r.SyncType,
		Status: string(r.Status), Message: r.Message, Fingerprint: r.Fingerprint,
		TotalCount: r.TotalCount, SuccessCount: r.SuccessCount, FailedCount: r.FailedCount,
		StartedAt: chTime(r.StartedAt), ReceivedAt: chTime(r.ReceivedAt), RunStartedAt: chTime(anchor),
		Version: version(r), Attributes: r.Attributes,
	}
	if r.CompletedAt != nil {
		c := chTime(*r.CompletedAt)
		row.CompletedAt = &c
	}
	return row
}

// maxMendRounds bounds the rounds of mendSplitRuns: each round moves
// every split run it finds to its earliest anchor, and only a report
// inserted meanwhile by another replica under a later anchor makes another
// round necessary.
const maxMendRounds = 5

// mendSplitRuns moves every run of ids that is stored under more than one
// anchor to the earliest (moveToAnchors), until none is. When other
// replicas keep adding to the runs for maxMendRounds rounds it leaves the
// rest to the next insert of those runs, with a warning: the reports are
// stored, and holding the batch back would stop the spool from draining.
func (s *Store) mendSplitRuns(ctx context.Context, ids []string) error {
	for range maxMendRounds {
		out, err := s.eng.selectRows(ctx, `SELECT run_id, groupUniqArray(run_started_at) AS anchors
FROM report_keys WHERE run_id IN {ids:Array(String)}
GROUP BY run_id HAVING length(anchors) > 1`, Params{"ids": ids})
		if err != nil {
			return fmt.Errorf("look for split runs: %w", err)
		}
		splits, err := decodeRows[struct {
			RunID   string      `json:"run_id"`
			Anchors []time.Time `json:"anchors"`
		}](out)
		if err != nil {
			return fmt.Errorf("decode split runs: %w", err)
		}
		if len(splits) == 0 {
			return nil
		}
		anchors := make(map[string][]time.Time, len(splits))
		split := make([]string, len(splits))
		for i, sp := range splits {
			anchors[sp.RunID] = sp.Anchors
			split[i] = sp.RunID
		}
		if err := s.moveToAnchors(ctx, split, anchors); err != nil {
			return err
		}
		s.log.WithField("runs", len(splits)).Debug("runs stored under two starts moved to their earliest")
	}
	s.log.WithField("rounds", maxMendRounds).Warn("runs still stored under two starts: other replicas keep adding to them; the next insert of their reports mends them")
	return nil
}

// movedRow is a report stored under a later anchor than its run's.
type movedRow struct {
	EventID      string            `json:"event_id"`
	RunID        string            `json:"run_id"`
	Source       string            `json:"source"`
	SyncType     string            `json:"sync_type"`
	Status       string            `json:"status"`
	Message      string            `json:"message"`
	Fingerprint  uint64            `json:"fingerprint"`
	TotalCount   uint64            `json:"total_count"`
	SuccessCount uint64            `json:"success_count"`
	FailedCount  uint64            `json:"failed_count"`
	StartedAt    time.Time         `json:"started_at"`
	CompletedAt  *time.Time        `json:"completed_at"`
	ReceivedAt   time.Time         `json:"received_at"`
	RunStartedAt time.Time         `json:"run_started_at"`
	Version      uint64            `json:"version"`
	Attributes   map[string]string `json:"attributes"`
}

// moveToAnchors stores the reports of runs ids kept under a later anchor
// than their run's again under the run's, and deletes what they left
// behind. anchors are the anchors report_keys holds of each run; the
// run's anchor is the earliest of them and of those of its reports read
// here: rows only ever move to an earlier start, so two replicas mending
// one run never undo each other's work.
func (s *Store) moveToAnchors(ctx context.Context, ids []string, anchors map[string][]time.Time) error {
	out, err := s.eng.selectRows(ctx, `SELECT `+reportColumnList+`
FROM reports WHERE run_id IN {ids:Array(String)}`, Params{"ids": ids})
	if err != nil {
		return fmt.Errorf("read the reports of split runs: %w", err)
	}
	stored, err := decodeRows[movedRow](out)
	if err != nil {
		return fmt.Errorf("decode the reports of split runs: %w", err)
	}
	earliest := make(map[string]time.Time, len(ids))
	for id, as := range anchors {
		for _, a := range as {
			if e, ok := earliest[id]; !ok || a.Before(e) {
				earliest[id] = a.UTC()
			}
		}
	}
	held := map[string]bool{}
	// kind is a run's source and sync type, for the rollup's keys.
	kind := map[string][2]string{}
	for _, m := range stored {
		kind[m.RunID] = [2]string{m.Source, m.SyncType}
		if e, ok := earliest[m.RunID]; !ok || m.RunStartedAt.Before(e) {
			earliest[m.RunID] = m.RunStartedAt.UTC()
		}
		held[m.RunID+"/"+fmt.Sprint(m.RunStartedAt.UnixMilli())] = true
	}
	// The rows to delete are named by strings of their keys joined by
	// '/', which no id, source or sync type holds.
	var rows []reportRow
	var reportKeys, runKeys, dayKeys []string
	seenRun, seenDay := map[string]bool{}, map[string]bool{}
	var first, last time.Time
	for _, m := range stored {
		anchor := earliest[m.RunID]
		if !m.RunStartedAt.After(anchor) {
			continue
		}
		row := reportRow{
			EventID: m.EventID, RunID: m.RunID, Source: m.Source, SyncType: m.SyncType, Status: m.Status,
			Message: m.Message, Fingerprint: m.Fingerprint,
			TotalCount: m.TotalCount, SuccessCount: m.SuccessCount, FailedCount: m.FailedCount,
			StartedAt: chTime(m.StartedAt), ReceivedAt: chTime(m.ReceivedAt), RunStartedAt: chTime(anchor),
			Version: m.Version, Attributes: m.Attributes,
		}
		if m.CompletedAt != nil {
			c := chTime(*m.CompletedAt)
			row.CompletedAt = &c
		}
		rows = append(rows, row)
		ms := fmt.Sprint(m.RunStartedAt.UnixMilli())
		reportKeys = append(reportKeys, m.RunID+"/"+ms+"/"+m.EventID)
		if k := m.RunID + "/" + ms; !seenRun[k] {
			seenRun[k] = true
			runKeys = append(runKeys, k)
		}
		day := m.RunStartedAt.UTC().Truncate(24 * time.Hour)
		if k := m.Source + "/" + m.SyncType + "/" + day.Format(time.DateOnly); !seenDay[k] {
			seenDay[k] = true
			dayKeys = append(dayKeys, k)
		}
		if first.IsZero() || day.Before(first) {
			first = day
		}
		if day.After(last) {
			last = day
		}
	}
	// Later anchors report_keys holds without a report under them: what a
	// mend that failed half-way left. Their keys and runs rows go too.
	var orphans []string
	for id, as := range anchors {
		for _, a := range as {
			k := id + "/" + fmt.Sprint(a.UnixMilli())
			if !a.After(earliest[id]) || held[k] {
				continue
			}
			orphans = append(orphans, k)
			if kd, ok := kind[id]; ok {
				day := a.UTC().Truncate(24 * time.Hour)
				if k := kd[0] + "/" + kd[1] + "/" + day.Format(time.DateOnly); !seenDay[k] {
					seenDay[k] = true
					dayKeys = append(dayKeys, k)
				}
				if first.IsZero() || day.Before(first) {
					first = day
				}
				if day.After(last) {
					last = day
				}
			}
		}
	}
	if len(rows) == 0 && len(orphans) == 0 {
		return nil
	}
	for _, chunk := range splitByPartition(rows, maxPartitionsPerInsert) {
		if err := s.eng.insertReports(ctx, chunk, dedupToken(chunk)); err != nil {
			return fmt.Errorf("store %d reports of split runs under their run's start: %w", len(chunk), err)
		}
	}
	if first.IsZero() {
		first, last = time.Unix(0, 0).UTC(), time.Unix(0, 0).UTC()
	}
	p := Params{"ids": ids, "reports": reportKeys, "runs": append(runKeys, orphans...), "orphans": orphans, "days": dayKeys,
		"from": first, "to": last.Add(24 * time.Hour)}
	for _, stmt := range []string{
		// Exactly the rows copied: one another replica stores meanwhile
		// under a later start stays, for that replica to mend.
		`DELETE FROM reports WHERE run_id IN {ids:Array(String)}
AND concat(run_id, '/', toString(toUnixTimestamp64Milli(run_started_at)), '/', event_id) IN {reports:Array(String)}`,
		`DELETE FROM report_keys WHERE run_id IN {ids:Array(String)}
AND (concat(run_id, '/', toString(toUnixTimestamp64Milli(run_started_at)), '/', event_id) IN {reports:Array(String)}
  OR concat(run_id, '/', toString(toUnixTimestamp64Milli(run_started_at))) IN {orphans:Array(String)})`,
		`DELETE FROM runs WHERE run_id IN {ids:Array(String)}
AND concat(run_id, '/', toString(toUnixTimestamp64Milli(started_at))) IN {runs:Array(String)}`,
		// The activity of the days of the later starts, from the runs of
		// those days (a day's range of the runs table's key): the earliest
		// and latest start as the reports give them, and the latest
		// success of the runs' rows not yet merged away, which is the
		// reports' but for a run that reported a success and then another
		// end, merged.
		`DELETE FROM run_activity WHERE concat(source, '/', sync_type, '/', toString(day)) IN {days:Array(String)}`,
		`INSERT INTO run_activity
SELECT
    toDate(started_at) AS day,
    source,
    sync_type,
    min(started_at) AS first_run_started_at,
    max(started_at) AS last_run_started_at,
    maxIf(assumeNotNull(completed_at), status = 'success' AND completed_at IS NOT NULL) AS last_success_at
FROM runs
WHERE started_at >= {from:DateTime64(3, 'UTC')} AND started_at < {to:DateTime64(3, 'UTC')}
AND concat(source, '/', sync_type, '/', toString(toDate(started_at))) IN {days:Array(String)}
GROUP BY day, source, sync_type
SETTINGS insert_deduplicate = 0`,
		// The diagnostics' summaries of those days are stale: the rows
		// deleted inserted no report to mark them.
		`INSERT INTO run_baseline_marks (day, marked_at)
SELECT DISTINCT toDate(splitByChar('/', d)[-1]) AS day, now64(3, 'UTC') FROM (SELECT arrayJoin({days:Array(String)}) AS d)
SETTINGS insert_deduplicate = 0`,
	} {
		if err := s.eng.exec(ctx, stmt, p); err != nil {
			return fmt.Errorf("remove what %d split runs left under later starts: %w", len(ids), err)
		}
	}
	return nil
}
