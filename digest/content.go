// Package digest builds, renders and sends the scheduled digests: for each
// configured digest, the last complete day, week or month of runs in its
// scope, compared with the period before and the seven days before its
// end, with the error groups that are new or rising and the runs that
// did not happen, in English or Chinese, to its channels. Each digest of
// each period is sent once however many replicas run the scheduler and
// however often they restart, through a ledger of deliveries that the
// store keeps (see Ledger).
package digest

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/syncwatch/syncwatch/config"
	"github.com/syncwatch/syncwatch/runs"
	"github.com/syncwatch/syncwatch/synclog"
)

// Reader is what digests read of the runs; *clickhouse.Store is one.
type Reader interface {
	// Stats computes figures over runs, grouped and bucketed.
	Stats(ctx context.Context, q runs.StatsQuery) ([]runs.Stats, error)
	// ErrorGroups groups failed and partial runs by message fingerprint,
	// with each group's count in the window of equal length before.
	ErrorGroups(ctx context.Context, f runs.Filter, limit int) ([]runs.ErrorGroup, error)
}

// Insights is the seam for the diagnostics of the runs (anomalies and
// forecasts, issue 16): when a Service is given one, each digest carries
// what it says of the digest's scope and period. Optional; nothing in
// this package depends on it being there.
type Insights interface {
	// Insights returns the anomalies and forecasts of the runs of scope
	// in p, their summaries in lang (config.LangEnglish or
	// config.LangChinese).
	Insights(ctx context.Context, scope Scope, p Period, lang string) ([]Insight, error)
}

// Insight is one anomaly or forecast a digest reports.
type Insight struct {
	// Kind is "anomaly" or "forecast".
	Kind     string `json:"kind"`
	SyncType string `json:"sync_type,omitempty"`
	Source   string `json:"source,omitempty"`
	// Summary is one line for people, in the digest's language.
	Summary string `json:"summary"`
	// Link, when set, leads to the details.
	Link string `json:"link,omitempty"`
}

// Scope selects the runs of a digest; empty lists select all.
type Scope struct {
	Sources   []string `json:"sources"`
	SyncTypes []string `json:"sync_types"`
}

// Figures are a sync type's figures over a span of time.
type Figures struct {
	Runs    uint64 `json:"runs"`
	Success uint64 `json:"success"`
	Failed  uint64 `json:"failed"`
	Partial uint64 `json:"partial"`
	// SuccessRatio is success over terminal runs; nil without any.
	SuccessRatio *float64 `json:"success_ratio"`
	// Records counts the records of the terminal runs.
	Records       uint64   `json:"records"`
	RecordsFailed uint64   `json:"records_failed"`
	DurationP95   *float64 `json:"duration_p95_seconds"`
	DurationAvg   *float64 `json:"duration_avg_seconds"`
}

// TypeRow is one sync type of a digest.
type TypeRow struct {
	SyncType string `json:"sync_type"`
	// SyncTypeDisplay is the sync type's name in the digest's language.
	SyncTypeDisplay string  `json:"sync_type_display"`
	Period          Figures `json:"period"`
	Previous        Figures `json:"previous_period"`
	// SevenDay are the figures of the seven days that end with the
	// period; SevenDayRunsPerDay their average runs a day.
	SevenDay           Figures `json:"seven_day"`
	SevenDayRunsPerDay float64 `json:"seven_day_runs_per_day"`
	// P95Change is the period's p95 duration over the previous period's,
	// minus one (0.25 is 25% slower); nil without both.
	P95Change *float64 `json:"p95_change"`
	// P95VsSevenDay compares the period's p95 with the seven days' alike.
	P95VsSevenDay *float64 `json:"p95_vs_seven_day"`
	ConsoleURL    string   `json:"console_url,omitempty"`
	GrafanaURL    string   `json:"grafana_url,omitempty"`
}

// ErrorRow is an error group that is new in the period (absent from the
// period of equal length before) or regressed (rising).
type ErrorRow struct {
	runs.ErrorGroup
	// SyncTypesDisplay are the names of SyncTypes in the digest's
	// language.
	SyncTypesDisplay []string `json:"sync_types_display"`
	New              bool     `json:"new"`
	Regressed        bool     `json:"regressed"`
	ConsoleURL       string   `json:"console_url,omitempty"`
}

// MissedRow is a sync type that ran fewer times than its expected
// interval asks for in the period.
type MissedRow struct {
	SyncType        string `json:"sync_type"`
	SyncTypeDisplay string `json:"sync_type_display"`
	// Interval is the expected interval between runs, in seconds.
	Interval float64 `json:"expected_interval_seconds"`
	Expected uint64  `json:"expected_runs"`
	Runs     uint64  `json:"runs"`
	Missed   uint64  `json:"missed_runs"`
}

// Links lead from a digest to the console and Grafana.
type Links struct {
	Console string `json:"console,omitempty"`
	Errors  string `json:"errors,omitempty"`
	Grafana string `json:"grafana,omitempty"`
}

// Content is one digest of one period: what every rendering shows and
// GET /api/v1/reports/digest answers.
type Content struct {
	Digest   string `json:"digest"`
	Language string `json:"language"`
	TZ       string `json:"tz"`
	Period   Period `json:"period"`
	Scope    Scope  `json:"scope"`
	// Late is set when the digest is sent after it was due (syncwatch
	// was down, or its channel failed); DueAt says when it was.
	Late        bool       `json:"late"`
	DueAt       *time.Time `json:"due_at,omitempty"`
	GeneratedAt time.Time  `json:"generated_at"`
	// Totals are the figures of every sync type in scope together.
	Totals      Figures     `json:"totals"`
	SyncTypes   []TypeRow   `json:"sync_types"`
	ErrorGroups []ErrorRow  `json:"error_groups"`
	Missed      []MissedRow `json:"missed"`
	// Insights are the diagnostics' anomalies and forecasts, when the
	// diagnostics are there; empty otherwise.
	Insights []Insight `json:"insights"`
	Links    Links     `json:"links"`
	// Empty is set when the period has nothing to say: no run, no error
	// group, no missed run, no insight.
	Empty bool `json:"empty"`
}

// Request names the digest to build: a configured digest's settings and
// the period to cover.
type Request struct {
	Name     string
	Language string
	Location *time.Location
	Period   Period
	Scope    Scope
}

// MaxErrorRows bounds the error groups of a digest.
const MaxErrorRows = 10

// Builder reads the figures of digests.
type Builder struct {
	reader     Reader
	insights   Insights
	expected   map[string]time.Duration
	types      []string
	consoleURL string
	grafanaURL string
	now        func() time.Time
}

// BuilderConfig configures a Builder.
type BuilderConfig struct {
	// SyncTypes are the configured sync types, listed in this order.
	SyncTypes []string
	// Expected are the sync types' expected intervals, for missed runs.
	Expected map[string]time.Duration
	// ConsoleURL and GrafanaURL are the external addresses of links.
	ConsoleURL, GrafanaURL string
	// Insights is optional (see Insights).
	Insights Insights
	Now      func() time.Time
}

// NewBuilder returns a builder over r.
func NewBuilder(r Reader, c BuilderConfig) *Builder {
	if c.Now == nil {
		c.Now = time.Now
	}
	return &Builder{reader: r, insights: c.Insights, expected: c.Expected, types: c.SyncTypes,
		consoleURL: c.ConsoleURL, grafanaURL: c.GrafanaURL, now: c.Now}
}

// RequestFor returns the request of digest d for period p.
func RequestFor(d *config.Digest, p Period) Request {
	return Request{Name: d.Name, Language: d.Language, Location: d.Location, Period: p,
		Scope: Scope{Sources: orEmpty(d.Sources), SyncTypes: orEmpty(d.SyncTypes)}}
}

// Build reads the content of req.
func (b *Builder) Build(ctx context.Context, req Request) (*Content, error) {
	p := req.Period
	c := &Content{
		Digest: req.Name, Language: req.Language, TZ: req.Location.String(), Period: p, Scope: req.Scope,
		GeneratedAt: b.now().UTC(), SyncTypes: []TypeRow{}, ErrorGroups: []ErrorRow{}, Missed: []MissedRow{}, Insights: []Insight{},
	}
	filter := func(since, until time.Time) runs.Filter {
		return runs.Filter{Sources: req.Scope.Sources, SyncTypes: req.Scope.SyncTypes, Since: since, Until: until}
	}
	prev := p.Previous()
	weekStart := p.End.AddDate(0, 0, -7)
	cur, err := b.byType(ctx, filter(p.Start, p.End))
	if err != nil {
		return nil, err
	}
	before, err := b.byType(ctx, filter(prev.Start, prev.End))
	if err != nil {
		return nil, err
	}
	week, err := b.byType(ctx, filter(weekStart, p.End))
	if err != nil {
		return nil, err
	}
	days := p.End.Sub(weekStart).Hours() / 24
	for _, t := range b.typesOf(req.Scope, cur, before, week) {
		row := TypeRow{SyncType: t, SyncTypeDisplay: displayName(t, req.Language), Period: cur[t], Previous: before[t], SevenDay: week[t],
			SevenDayRunsPerDay: float64(week[t].Runs) / days}
		row.P95Change = change(row.Period.DurationP95, row.Previous.DurationP95)
		row.P95VsSevenDay = change(row.Period.DurationP95, row.SevenDay.DurationP95)
		row.ConsoleURL = b.console("/ui/runs", url.Values{"sync_type": {t}, "since": {stamp(p.Start)}, "until": {stamp(p.End)}}, req.Scope)
		row.GrafanaURL = b.grafana("/d/syncwatch-drilldown", url.Values{"var-sync_type": {t}, "from": {ms(p.Start)}, "to": {ms(p.End)}})
		c.SyncTypes = append(c.SyncTypes, row)
		c.Totals.add(cur[t])
		if miss, ok := b.missed(t, p, cur[t]); ok {
			miss.SyncTypeDisplay = row.SyncTypeDisplay
			c.Missed = append(c.Missed, miss)
		}
	}
	c.Totals.finish()
	groups, err := b.reader.ErrorGroups(ctx, filter(p.Start, p.End), 100)
	if err != nil {
		return nil, fmt.Errorf("digest %s: error groups: %w", req.Name, err)
	}
	for _, g := range groups {
		row := ErrorRow{ErrorGroup: g, New: g.Previous == 0, Regressed: g.Previous > 0 && g.Rising}
		if !row.New && !row.Regressed {
			continue
		}
		row.SyncTypes, row.Sources = orEmpty(row.SyncTypes), orEmpty(row.Sources)
		row.SyncTypesDisplay = make([]string, len(row.SyncTypes))
		for i, st := range row.SyncTypes {
			row.SyncTypesDisplay[i] = displayName(st, req.Language)
		}
		row.ConsoleURL = b.console("/ui/runs", url.Values{"fingerprint": {g.Fingerprint.String()}, "since": {stamp(p.Start)}, "until": {stamp(p.End)}}, req.Scope)
		if len(c.ErrorGroups) < MaxErrorRows {
			c.ErrorGroups = append(c.ErrorGroups, row)
		}
	}
	if b.insights != nil {
		ins, err := b.insights.Insights(ctx, req.Scope, p, req.Language)
		if err != nil {
			return nil, fmt.Errorf("digest %s: insights: %w", req.Name, err)
		}
		c.Insights = append(c.Insights, ins...)
	}
	c.Links = Links{
		Console: b.console("/ui/runs", url.Values{"since": {stamp(p.Start)}, "until": {stamp(p.End)}}, req.Scope),
		Errors:  b.console("/ui/errors", url.Values{"since": {stamp(p.Start)}, "until": {stamp(p.End)}}, req.Scope),
		Grafana: b.grafana("/d/syncwatch-overview", url.Values{"from": {ms(p.Start)}, "to": {ms(p.End)}}),
	}
	c.Empty = c.Totals.Runs == 0 && len(c.ErrorGroups) == 0 && len(c.Missed) == 0 && len(c.Insights) == 0
	return c, nil
}

// byType reads the figures of f per sync type.
func (b *Builder) byType(ctx context.Context, f runs.Filter) (map[string]Figures, error) {
	st, err := b.reader.Stats(ctx, runs.StatsQuery{Filter: f, GroupBy: []runs.GroupBy{runs.BySyncType}})
	if err != nil {
		return nil, fmt.Errorf("digest figures %s to %s: %w", stamp(f.Since), stamp(f.Until), err)
	}
	out := make(map[string]Figures, len(st))
	for _, s := range st {
		out[s.SyncType] = Figures{
			Runs: s.Runs, Success: s.Success, Failed: s.Failed, Partial: s.Partial, SuccessRatio: s.SuccessRatio,
			Records: s.RecordsTotal, RecordsFailed: s.RecordsFailed, DurationP95: s.DurationP95, DurationAvg: s.DurationAvg,
		}
	}
	return out, nil
}

// typesOf lists the sync types of a digest: those of its scope, or the
// configured ones, and any other that ran; in the configured order, then
// by name.
func (b *Builder) typesOf(scope Scope, figures ...map[string]Figures) []string {
	list := scope.SyncTypes
	if len(list) == 0 {
		list = b.types
	}
	out := slices.Clone(list)
	var extra []string
	for _, f := range figures {
		for t := range f {
			if !slices.Contains(out, t) && !slices.Contains(extra, t) {
				extra = append(extra, t)
			}
		}
	}
	slices.Sort(extra)
	return append(out, extra...)
}

// missed compares the runs of sync type t in p with its expected
// interval: a type that should run every hour and ran 20 times in a day
// missed 4 runs.
func (b *Builder) missed(t string, p Period, f Figures) (MissedRow, bool) {
	iv := b.expected[t]
	if iv <= 0 {
		return MissedRow{}, false
	}
	want := uint64(p.End.Sub(p.Start) / iv)
	if f.Runs >= want {
		return MissedRow{}, false
	}
	return MissedRow{SyncType: t, Interval: iv.Seconds(), Expected: want, Runs: f.Runs, Missed: want - f.Runs}, true
}

func (f *Figures) add(o Figures) {
	f.Runs += o.Runs
	f.Success += o.Success
	f.Failed += o.Failed
	f.Partial += o.Partial
	f.Records += o.Records
	f.RecordsFailed += o.RecordsFailed
}

// finish computes the totals' success ratio.
func (f *Figures) finish() {
	if term := f.Success + f.Failed + f.Partial; term > 0 {
		r := float64(f.Success) / float64(term)
		f.SuccessRatio = &r
	}
}

func change(cur, base *float64) *float64 {
	if cur == nil || base == nil || *base <= 0 {
		return nil
	}
	v := *cur / *base - 1
	return &v
}

func (b *Builder) console(path string, v url.Values, scope Scope) string {
	if b.consoleURL == "" {
		return ""
	}
	if len(scope.Sources) > 0 {
		v.Set("source", joinComma(scope.Sources))
	}
	if len(scope.SyncTypes) > 0 && v.Get("sync_type") == "" {
		v.Set("sync_type", joinComma(scope.SyncTypes))
	}
	return trimSlash(b.consoleURL) + path + "?" + v.Encode()
}

func (b *Builder) grafana(path string, v url.Values) string {
	if b.grafanaURL == "" {
		return ""
	}
	return trimSlash(b.grafanaURL) + path + "?" + v.Encode()
}

func trimSlash(s string) string {
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}

func joinComma(l []string) string {
	out := ""
	for i, s := range l {
		if i > 0 {
			out += ","
		}
		out += s
	}
	return out
}

// displayName is a sync type's display name in lang.
func displayName(syncType, lang string) string {
	return synclog.SyncTypeDisplayName(syncType, synclog.Language(lang))
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
func ms(t time.Time) string    { return strconv.FormatInt(t.UnixMilli(), 10) }

func orEmpty(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}
