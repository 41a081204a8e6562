package ui

import (
	"net/http"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/syncwatch/syncwatch/diagnose"
	"github.com/syncwatch/syncwatch/web/api"
)

// diagnosisWindow is how far back the Diagnosis page lists anomalies:
// the window the service keeps warm.
const diagnosisWindow = diagnose.DiagnosisWindow

// kindLabels name the kinds of anomaly and hint in the console.
var kindLabels = map[string]string{
	string(diagnose.KindRegression): "Regression", string(diagnose.KindDuration): "Slow run",
	string(diagnose.KindTooFast): "Too fast", string(diagnose.KindTooSmall): "Too few records",
	string(diagnose.KindFailureRate): "Failure burst", string(diagnose.KindLate): "Late",
	string(diagnose.KindTooOften): "Too often", string(diagnose.KindOverlap): "Overlapping runs",
	diagnose.HintScope: "Scope", diagnose.HintAttribute: "Attribute", diagnose.HintFingerprint: "Error",
	diagnose.HintOnset:         "Onset",
	diagnose.MetricDurationP95: "p95 duration (s)", diagnose.MetricFailureRatio: "Failure ratio",
	diagnose.MetricRecordsVolume: "Records per day",
	"max_runtime":                "Maximum runtime", "interval": "Interval",
}

// diagnosisForm holds the page's choice as the form shows it.
type diagnosisForm struct {
	SyncType, Source string
}

// diagnosisPage is the content of the Diagnosis page.
type diagnosisPage struct {
	Form      diagnosisForm
	SyncTypes []string
	// Chosen is false until a sync type is chosen.
	Chosen    bool
	Since     time.Time
	Anomalies []diagnose.Anomaly
	Types     []diagnose.TypeStatus
	Forecasts []diagnose.Forecast
	Cause     *diagnose.RootCause
	APIURL    string
}

// handleDiagnosis serves /ui/diagnosis: one sync type's anomalies of the
// last week, its forecasts, and the root-cause hints of its last day.
func (cn *Console) handleDiagnosis(c *gin.Context) {
	raw := stripLang(c.Request.URL.RawQuery)
	p := diagnosisPage{SyncTypes: cn.types.Names()}
	v, _ := url.ParseQuery(raw)
	p.Form = diagnosisForm{SyncType: v.Get("sync_type"), Source: v.Get("source")}
	if v.Get("sync_type") == "" && v.Get("source") == "" && len(v) == 0 {
		cn.render(c, http.StatusOK, "diagnosis", "Diagnosis", "diagnosis", p)
		return
	}
	env := cn.env()
	req, perr := api.ParseRootCauseRequest(raw, env)
	if perr != nil {
		cn.badParam(c, perr)
		return
	}
	if cn.diag == nil {
		cn.fail(c, http.StatusServiceUnavailable, "Diagnostics are not available here: they need the ClickHouse store.")
		return
	}
	ctx, cancel := api.QueryContext(c)
	defer cancel()
	f := diagnose.Filter{SyncTypes: []string{req.SyncType}}
	if req.Source != "" {
		f.Sources = []string{req.Source}
	}
	now := cn.now().UTC()
	p.Chosen, p.Since = true, now.Add(-diagnosisWindow)
	rep, err := cn.diag.Anomalies(ctx, diagnose.Query{Filter: f, Since: p.Since, Until: now})
	if err != nil {
		cn.queryFailed(c, "the anomalies", err)
		return
	}
	lang := langOf(c)
	rep = rep.In(lang)
	p.Anomalies, p.Types = rep.Anomalies, rep.Types
	fs, err := cn.diag.Forecasts(ctx, diagnose.ForecastQuery{Filter: f, Until: now})
	if err != nil {
		cn.queryFailed(c, "the forecasts", err)
		return
	}
	p.Forecasts = diagnose.ForecastsIn(fs, lang)
	rc, err := cn.diag.RootCause(ctx, req)
	if err != nil {
		cn.queryFailed(c, "the root cause", err)
		return
	}
	rc = rc.In(lang)
	p.Cause = &rc
	p.APIURL = "/api/v1/diagnostics/anomalies?" + url.Values{"sync_type": {req.SyncType}, "source": v["source"]}.Encode()
	cn.render(c, http.StatusOK, "diagnosis", "Diagnosis", "diagnosis", p)
}
