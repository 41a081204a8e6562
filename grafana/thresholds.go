package grafana

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// ThresholdPrefix starts the name of every recording rule that holds an
// alerting threshold.
const ThresholdPrefix = "syncwatch:threshold:"

// Thresholds are the alerting thresholds of alerts/rules/recording.yml that
// the dashboards draw, each named after its recording rule
// (syncwatch:threshold:<name>).
type Thresholds struct {
	// RunFailureRatioWarning and RunFailureRatioCritical bound the share of
	// finished runs that failed in the last hour (SyncFailureRateHigh).
	RunFailureRatioWarning  float64
	RunFailureRatioCritical float64
	// MinRuns1h is the fewest finished runs in an hour that a failure
	// ratio or a duration regression is judged on.
	MinRuns1h float64
	// ConsecutiveFailuresWarning and ConsecutiveFailuresCritical bound the
	// failure streak (SyncConsecutiveFailures).
	ConsecutiveFailuresWarning  float64
	ConsecutiveFailuresCritical float64
	// SilentGraceFactorWarning and SilentGraceFactorCritical are how many
	// expected intervals may pass without a success (SyncSilent).
	SilentGraceFactorWarning  float64
	SilentGraceFactorCritical float64
	// DurationRegressionFactor and DurationRegressionFloorSeconds define a
	// slowdown (SyncDurationRegression).
	DurationRegressionFactor       float64
	DurationRegressionFloorSeconds float64
	// RecordFailureRatio bounds the share of records not synced in the
	// last hour (SyncRecordFailuresHigh).
	RecordFailureRatio float64
	// SpoolUsageWarning and SpoolUsageCritical bound the spool's fill
	// ratio (SyncwatchSpoolFilling, SyncwatchSpoolFull).
	SpoolUsageWarning  float64
	SpoolUsageCritical float64
	// SpoolOldestAgeSeconds bounds the age of the oldest spooled report
	// (SyncwatchSpoolStalled).
	SpoolOldestAgeSeconds float64
	// IngestRejectionsPerMinute bounds the rejections of one reason per
	// minute (SyncwatchIngestRejectionsRising).
	IngestRejectionsPerMinute float64
	// ForecastOverrunSeconds is how soon a forecast overrun is warned of
	// (SyncForecastOverrun).
	ForecastOverrunSeconds float64
}

// thresholdFields lists the fields of Thresholds with their rule names, in
// declaration order.
func (t *Thresholds) fields() []struct {
	name string
	ptr  *float64
} {
	return []struct {
		name string
		ptr  *float64
	}{
		{"run_failure_ratio_warning", &t.RunFailureRatioWarning},
		{"run_failure_ratio_critical", &t.RunFailureRatioCritical},
		{"min_runs_1h", &t.MinRuns1h},
		{"consecutive_failures_warning", &t.ConsecutiveFailuresWarning},
		{"consecutive_failures_critical", &t.ConsecutiveFailuresCritical},
		{"silent_grace_factor_warning", &t.SilentGraceFactorWarning},
		{"silent_grace_factor_critical", &t.SilentGraceFactorCritical},
		{"duration_regression_factor", &t.DurationRegressionFactor},
		{"duration_regression_floor_seconds", &t.DurationRegressionFloorSeconds},
		{"record_failure_ratio", &t.RecordFailureRatio},
		{"spool_usage_warning", &t.SpoolUsageWarning},
		{"spool_usage_critical", &t.SpoolUsageCritical},
		{"spool_oldest_age_seconds", &t.SpoolOldestAgeSeconds},
		{"ingest_rejections_per_minute", &t.IngestRejectionsPerMinute},
		{"forecast_overrun_seconds", &t.ForecastOverrunSeconds},
	}
}

// Values returns the thresholds by rule name (without ThresholdPrefix).
func (t Thresholds) Values() map[string]float64 {
	out := map[string]float64{}
	for _, f := range t.fields() {
		out[f.name] = *f.ptr
	}
	return out
}

// vectorNumber matches the expression of a threshold rule: vector(<number>).
var vectorNumber = regexp.MustCompile(`^vector\(\s*([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*\)$`)

// ParseThresholds reads the syncwatch:threshold:* recording rules of a
// Prometheus rule file. Each must be a constant, vector(<number>), and
// every threshold of Thresholds must be defined; rules the dashboards do
// not draw are ignored.
func ParseThresholds(ruleFile []byte) (Thresholds, error) {
	var doc struct {
		Groups []struct {
			Rules []struct {
				Record string `yaml:"record"`
				Expr   string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(ruleFile, &doc); err != nil {
		return Thresholds{}, fmt.Errorf("parse rules: %w", err)
	}
	found := map[string]float64{}
	for _, g := range doc.Groups {
		for _, r := range g.Rules {
			name, ok := strings.CutPrefix(r.Record, ThresholdPrefix)
			if !ok {
				continue
			}
			m := vectorNumber.FindStringSubmatch(strings.TrimSpace(r.Expr))
			if m == nil {
				return Thresholds{}, fmt.Errorf("threshold %s: expression %q is not vector(<number>)", r.Record, r.Expr)
			}
			v, err := strconv.ParseFloat(m[1], 64)
			if err != nil {
				return Thresholds{}, fmt.Errorf("threshold %s: %w", r.Record, err)
			}
			if _, dup := found[name]; dup {
				return Thresholds{}, fmt.Errorf("threshold %s is defined twice", r.Record)
			}
			found[name] = v
		}
	}
	var t Thresholds
	var missing []string
	for _, f := range t.fields() {
		v, ok := found[f.name]
		if !ok {
			missing = append(missing, ThresholdPrefix+f.name)
			continue
		}
		*f.ptr = v
	}
	if len(missing) > 0 {
		return Thresholds{}, fmt.Errorf("rules lack the thresholds %s", strings.Join(missing, ", "))
	}
	return t, nil
}

// LoadThresholds reads the thresholds from the rule file at path, normally
// alerts/rules/recording.yml.
func LoadThresholds(path string) (Thresholds, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Thresholds{}, err
	}
	t, err := ParseThresholds(b)
	if err != nil {
		return Thresholds{}, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}
