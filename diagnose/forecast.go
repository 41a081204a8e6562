package diagnose

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// The series a forecast predicts.
const (
	MetricDurationP95   = "duration_p95_seconds"
	MetricFailureRatio  = "failure_ratio"
	MetricRecordsVolume = "records_total"
)

// overrunHorizon is how far ahead an overrun is looked for.
const overrunHorizon = 30

// minForecastDays is the number of days with runs a forecast needs.
const minForecastDays = 7

// ForecastQuery asks for the forecasts of the filtered types from the
// daily history that ends at Until (now when zero).
type ForecastQuery struct {
	Filter Filter
	Until  time.Time
}

// Prediction is a value predicted some days ahead with its 95 %
// prediction interval.
type Prediction struct {
	Days  int       `json:"days"`
	At    time.Time `json:"at"`
	Value float64   `json:"value"`
	Low   float64   `json:"low"`
	High  float64   `json:"high"`
}

// Trend is one series' fitted line: its value on the last day, its slope
// per day, and its predictions.
type Trend struct {
	Metric      string       `json:"metric"`
	Current     float64      `json:"current"`
	SlopePerDay float64      `json:"slope_per_day"`
	Predictions []Prediction `json:"predictions"`
}

// Overrun says when the p95 duration is expected to reach a limit (the
// maximum runtime, or the type's interval): At is the day the fitted line
// reaches it, Earliest and Latest the days the upper and the lower bound
// of the prediction interval do; all nil and Note "not within 30 days"
// when the line does not reach it within the horizon.
type Overrun struct {
	Limit        string     `json:"limit"`
	LimitSeconds float64    `json:"limit_seconds"`
	At           *time.Time `json:"at"`
	Earliest     *time.Time `json:"earliest"`
	Latest       *time.Time `json:"latest"`
	Note         string     `json:"note,omitempty"`
	// NoteMessage is Note before it is put into words.
	NoteMessage Message `json:"-"`
}

// Forecast is one type's forecast.
type Forecast struct {
	Source   string `json:"source"`
	SyncType string `json:"sync_type"`
	// Days counts the days with terminal runs it was fitted on.
	Days int    `json:"days"`
	Note string `json:"note,omitempty"`
	// NoteMessage is Note before it is put into words.
	NoteMessage Message   `json:"-"`
	Trends      []Trend   `json:"trends"`
	Overruns    []Overrun `json:"overruns"`
	// History are the daily values the trends were fitted on, oldest
	// first, for a chart.
	History []DailyPoint `json:"history"`
}

// Forecasts fits a line through each type's daily p95 duration, failure
// ratio and record volume over the last ForecastDays days, and predicts
// them ForecastHorizons days ahead with 95 % prediction intervals, and when
// the p95 duration will reach the type's maximum runtime and interval.
//
// The lines are ordinary least squares (gonum's stat.LinearRegression) on
// the days ClickHouse aggregated: a month of daily points is too short for
// a seasonal decomposition to earn its keep, and a line with its
// prediction interval is what "when will it overrun" needs.
func (s *Service) Forecasts(ctx context.Context, q ForecastQuery) ([]Forecast, error) {
	until := q.Until
	if until.IsZero() {
		until = s.now()
	}
	until = until.UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	from := until.AddDate(0, 0, -s.cfg.ForecastDays)
	pts, err := s.store.DailySeries(ctx, Window{Filter: q.Filter, Since: from, Until: until, BaselineFrom: from})
	if err != nil {
		return nil, fmt.Errorf("forecasts: %w", err)
	}
	byType := map[typeKey][]DailyPoint{}
	var keys []typeKey
	for _, p := range pts {
		k := typeKey{p.Source, p.SyncType}
		if _, ok := byType[k]; !ok {
			keys = append(keys, k)
		}
		byType[k] = append(byType[k], p)
	}
	slices.SortFunc(keys, func(a, b typeKey) int {
		return cmp.Or(strings.Compare(a.source, b.source), strings.Compare(a.syncType, b.syncType))
	})
	out := make([]Forecast, 0, len(keys))
	for _, k := range keys {
		out = append(out, s.forecast(k, byType[k], until))
	}
	return out, nil
}

func (s *Service) forecast(k typeKey, pts []DailyPoint, until time.Time) Forecast {
	slices.SortFunc(pts, func(a, b DailyPoint) int { return a.Day.Compare(b.Day) })
	f := Forecast{Source: k.source, SyncType: k.syncType, Days: len(pts), Trends: []Trend{}, Overruns: []Overrun{}, History: pts}
	if len(pts) < minForecastDays {
		f.NoteMessage = msg(msgFewDays, len(pts), minForecastDays)
		f.Note = f.NoteMessage.english()
		return f
	}
	last := until.Add(-24 * time.Hour)
	day := func(t time.Time) float64 { return t.Sub(last).Hours() / 24 }
	xs := make([]float64, len(pts))
	p95, ratio, vol := make([]float64, len(pts)), make([]float64, len(pts)), make([]float64, len(pts))
	for i, p := range pts {
		xs[i] = day(p.Day)
		p95[i] = p.DurationP95
		ratio[i] = float64(p.Failed) / float64(max(p.Terminal, 1))
		vol[i] = p.Records
	}
	clamp := func(lo, hi float64) func(float64) float64 {
		return func(v float64) float64 { return math.Min(math.Max(v, lo), hi) }
	}
	durFit := fitLine(xs, p95)
	f.Trends = append(f.Trends,
		s.trend(MetricDurationP95, durFit, last, clamp(0, math.Inf(1))),
		s.trend(MetricFailureRatio, fitLine(xs, ratio), last, clamp(0, 1)),
		s.trend(MetricRecordsVolume, fitLine(xs, vol), last, clamp(0, math.Inf(1))),
	)
	if lim := s.cfg.MaxRuntimes[k.syncType]; lim > 0 {
		f.Overruns = append(f.Overruns, overrun("max_runtime", lim.Seconds(), durFit, last))
	}
	if lim := s.cfg.Intervals[k.syncType]; lim > 0 {
		f.Overruns = append(f.Overruns, overrun("interval", lim.Seconds(), durFit, last))
	}
	return f
}

func (s *Service) trend(metric string, ft fit, last time.Time, clamp func(float64) float64) Trend {
	cur, _, _ := ft.predict(0)
	t := Trend{Metric: metric, Current: round4(clamp(cur)), SlopePerDay: round4(ft.beta)}
	for _, h := range s.cfg.ForecastHorizons {
		y, lo, hi := ft.predict(float64(h))
		t.Predictions = append(t.Predictions, Prediction{Days: h, At: last.AddDate(0, 0, h),
			Value: round4(clamp(y)), Low: round4(clamp(lo)), High: round4(clamp(hi))})
	}
	return t
}

// overrun finds the first days within the horizon on which the fitted
// line and the bounds of its prediction interval reach limit.
func overrun(name string, limit float64, ft fit, last time.Time) Overrun {
	o := Overrun{Limit: name, LimitSeconds: limit}
	for d := 0; d <= overrunHorizon; d++ {
		y, lo, hi := ft.predict(float64(d))
		at := last.AddDate(0, 0, d)
		if o.Earliest == nil && hi >= limit {
			o.Earliest = &at
		}
		if o.At == nil && y >= limit {
			o.At = &at
		}
		if o.Latest == nil && lo >= limit {
			o.Latest = &at
		}
	}
	if o.At == nil {
		o.Earliest, o.Latest = nil, nil
		o.NoteMessage = msg(msgNotWithin, overrunHorizon)
		o.Note = o.NoteMessage.english()
	}
	return o
}

func round4(v float64) float64 { return math.Round(v*1e4) / 1e4 }
