package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/syncwatch/syncwatch/collector"
	"github.com/syncwatch/syncwatch/diagnose"
	"github.com/syncwatch/syncwatch/diagnose/synth"
	"github.com/syncwatch/syncwatch/digest"
	"github.com/syncwatch/syncwatch/digest/diaginsights"
	"github.com/syncwatch/syncwatch/internal/apptest"
	"github.com/syncwatch/syncwatch/internal/apptest/contract"
	"github.com/syncwatch/syncwatch/synclog"
	"github.com/syncwatch/syncwatch/web/api"
	"github.com/syncwatch/syncwatch/web/ui"
)

// TestDiagnosticsAPI ingests five weeks of hourly jobs with a failure
// burst in the last day, and a job with too little history, through the
// ingest API into the embedded engine, and checks the diagnostics API and
// a failed run's diagnosis against openapi.yaml and the planted events.
func TestDiagnosticsAPI(t *testing.T) {
	end := time.Now().UTC().Truncate(time.Hour).Add(-time.Hour)
	hourly := func(typ string, d time.Duration) synth.Job {
		return synth.Job{Source: "d1", SyncType: typ, Every: time.Hour, Duration: d, Records: 1000}
	}
	prices := hourly("prices", time.Minute)
	burstAt := end.Add(-10*time.Hour - 30*time.Minute)
	prices.Events = []synth.Event{{Kind: synth.Burst, Start: burstAt, Length: 6 * time.Hour}}
	h := synth.Generate(synth.Spec{Seed: 7, End: end, Weeks: 5, Noise: 0.1, FailureRate: 0.01,
		Jobs: []synth.Job{prices, hourly("logistics", 30*time.Second), hourly("order", 10*time.Second)}})
	// A job with three runs before the last day and two in it.
	for i, ago := range []time.Duration{72, 60, 48, 5, 2} {
		start := end.Add(-ago * time.Hour)
		done := start.Add(time.Minute)
		id := "young-" + string(rune('a'+i))
		h.Reports = append(h.Reports, synclog.Report{RunID: id, EventID: id, Source: "young", SyncType: "stock", Status: synclog.StatusSuccess,
			TotalCount: 10, SuccessCount: 10, StartedAt: start, CompletedAt: &done})
	}

	st := apptest.NewRealStore(t)
	svc, err := diagnose.New(st, func() diagnose.Config {
		c := diagnose.DefaultConfig()
		c.MaxRuntimes = synclog.DefaultMaxRuntimes()
		return c
	}())
	if err != nil {
		t.Fatal(err)
	}
	env := apptest.New(t, apptest.Options{Storage: st, Query: st, Diagnose: svc, Console: &ui.Config{}, RunBatcher: true, LogLevel: logrus.ErrorLevel,
		Ingest:  collector.Config{MaxItems: 20000, MaxBodyBytes: 64 << 20},
		Batcher: collector.BatcherConfig{Size: 20000, MaxAge: 20 * time.Millisecond}})
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	for _, r := range h.Reports {
		if err := enc.Encode(r); err != nil {
			t.Fatal(err)
		}
	}
	if w := env.Do(http.MethodPost, collector.Route, &body, http.Header{"Content-Type": {"application/x-ndjson"}}); w.Code != http.StatusAccepted {
		t.Fatalf("ingest: %d %s", w.Code, w.Body)
	}
	env.WaitDrained(t, time.Minute)

	getIn := func(t *testing.T, target string, h http.Header, out any) []byte {
		t.Helper()
		w := contract.Call(t, env.Handler(), http.MethodGet, target, contract.Options{Header: h})
		if w.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", target, w.Code, w.Body)
		}
		if err := json.Unmarshal(w.Body.Bytes(), out); err != nil {
			t.Fatal(err)
		}
		return w.Body.Bytes()
	}
	get := func(t *testing.T, target string, out any) { t.Helper(); getIn(t, target, nil, out) }

	var burst diagnose.Anomaly
	t.Run("anomalies", func(t *testing.T) {
		var rep api.AnomaliesResponse
		get(t, "/api/v1/diagnostics/anomalies?source=d1,young&kind=failure_rate", &rep)
		for _, a := range rep.Anomalies {
			if a.Kind != diagnose.KindFailureRate {
				t.Errorf("kind=failure_rate answered %s", a.Kind)
			}
			if a.SyncType == "prices" && !a.Began.Before(burstAt) && a.Began.Before(burstAt.Add(2*time.Hour)) {
				burst = a
			}
		}
		if burst.RunID == "" || burst.Evidence.K == nil || *burst.Evidence.K < 5 || len(burst.Evidence.RunIDs) == 0 {
			t.Fatalf("no failure burst of d1/prices from %s with its evidence: %+v", burstAt, rep.Anomalies)
		}
		var young, prices *diagnose.TypeStatus
		for i, ts := range rep.Types {
			switch ts.Source + "/" + ts.SyncType {
			case "young/stock":
				young = &rep.Types[i]
			case "d1/prices":
				prices = &rep.Types[i]
			}
		}
		if young == nil || young.Note != "not enough history (3 of 8 runs)" {
			t.Errorf("young/stock: %+v, want not enough history (3 of 8 runs)", young)
		}
		if prices == nil || prices.ConsecutiveThreshold == nil || *prices.ConsecutiveThreshold < 2 || prices.FailureBaseline == nil {
			t.Errorf("d1/prices: %+v, want the adaptive consecutive-failure threshold", prices)
		}
	})
	t.Run("root cause", func(t *testing.T) {
		var rc diagnose.RootCause
		get(t, "/api/v1/diagnostics/root-cause?source=d1&sync_type=prices", &rc)
		if rc.BadRuns != "failed" || rc.Bad < 5 || rc.Scope != diagnose.ScopeJob || len(rc.Hints) == 0 {
			t.Fatalf("root cause: %+v", rc)
		}
		var fp, onset bool
		for _, h := range rc.Hints {
			fp = fp || h.Kind == diagnose.HintFingerprint && h.State == "new" && strings.Contains(h.Summary, "503")
			onset = onset || h.Kind == diagnose.HintOnset && h.At != nil && h.At.Equal(burst.Began)
		}
		if !fp || !onset {
			t.Errorf("hints lack the new 503 error or the onset at %s: %+v", burst.Began, rc.Hints)
		}
	})
	t.Run("forecasts", func(t *testing.T) {
		var rep api.ForecastsResponse
		get(t, "/api/v1/diagnostics/forecasts?source=d1&sync_type=prices", &rep)
		if len(rep.Forecasts) != 1 {
			t.Fatalf("forecasts: %+v", rep.Forecasts)
		}
		f := rep.Forecasts[0]
		if len(f.Trends) != 3 || len(f.Trends[0].Predictions) != 2 || len(f.Overruns) != 1 || f.Days < 28 {
			t.Fatalf("forecast: %+v", f)
		}
		// A flat minute-long job never reaches its 30-minute limit.
		if o := f.Overruns[0]; o.Limit != "max_runtime" || o.At != nil || o.Note != "not within 30 days" {
			t.Errorf("overrun: %+v", o)
		}
		if p := f.Trends[0].Predictions[0]; p.Low > p.Value || p.Value > p.High || p.Value < 30 || p.Value > 300 {
			t.Errorf("p95 prediction: %+v", p)
		}
	})
	t.Run("run diagnosis", func(t *testing.T) {
		var failed api.RunDetailResponse
		get(t, "/api/v1/runs/"+burst.Evidence.RunIDs[1], &failed)
		if failed.Diagnosis == nil || failed.Diagnosis.RootCause == nil || len(failed.Diagnosis.Anomalies) == 0 {
			t.Fatalf("a failed run of the burst without its diagnosis: %+v", failed.Diagnosis)
		}
		var ok api.RunDetailResponse
		get(t, "/api/v1/runs/young-e", &ok)
		if ok.Diagnosis != nil {
			t.Errorf("a plain successful run has a diagnosis: %+v", ok.Diagnosis)
		}
	})
	t.Run("in Chinese", func(t *testing.T) {
		// English stays the default, word for word; lang=zh or a Chinese
		// Accept-Language words the summaries and notes in Chinese.
		anomalies := "/api/v1/diagnostics/anomalies?source=d1,young&kind=failure_rate&since=" + end.Add(-23*time.Hour).Format(time.RFC3339) +
			"&until=" + end.Add(time.Hour).Format(time.RFC3339)
		var en, zh, accepted api.AnomaliesResponse
		plain := getIn(t, anomalies, nil, &en)
		if english := getIn(t, anomalies+"&lang=en", nil, &en); !bytes.Equal(plain, english) {
			t.Errorf("lang=en differs from the default:\n%s\n%s", english, plain)
		}
		getIn(t, anomalies+"&lang=zh", nil, &zh)
		getIn(t, anomalies, http.Header{"Accept-Language": {"zh-CN,zh;q=0.9,en;q=0.8"}}, &accepted)
		for _, rep := range []api.AnomaliesResponse{zh, accepted} {
			if len(rep.Anomalies) != len(en.Anomalies) {
				t.Fatalf("%d anomalies in Chinese, %d in English", len(rep.Anomalies), len(en.Anomalies))
			}
			for i, a := range rep.Anomalies {
				if e := en.Anomalies[i]; !strings.Contains(e.Summary, " failures in ") || !strings.Contains(a.Summary, "次运行中失败") ||
					!strings.Contains(a.Summary, "基线失败率") || a.RunID != e.RunID {
					t.Errorf("anomaly %d: %q in Chinese, %q in English", i, a.Summary, e.Summary)
				}
			}
			found := false
			for _, ts := range rep.Types {
				found = found || ts.Source == "young" && ts.Note == "历史数据不足（3/8 次运行）"
			}
			if !found {
				t.Errorf("young/stock lacks its Chinese note: %+v", rep.Types)
			}
		}
		var rc diagnose.RootCause
		getIn(t, "/api/v1/diagnostics/root-cause?source=d1&sync_type=prices&lang=zh", nil, &rc)
		var fp, onset bool
		for _, h := range rc.Hints {
			fp = fp || h.Kind == diagnose.HintFingerprint && strings.HasPrefix(h.Summary, "新出现的错误，涉及 ") && strings.Contains(h.Summary, "503")
			onset = onset || h.Kind == diagnose.HintOnset && strings.HasPrefix(h.Summary, "开始于 ")
		}
		if !fp || !onset {
			t.Errorf("hints in Chinese lack the new 503 error or the onset: %+v", rc.Hints)
		}
		var fc api.ForecastsResponse
		getIn(t, "/api/v1/diagnostics/forecasts?source=d1&sync_type=prices&lang=zh", nil, &fc)
		if len(fc.Forecasts) != 1 || len(fc.Forecasts[0].Overruns) != 1 || fc.Forecasts[0].Overruns[0].Note != "30 天内不会达到" {
			t.Errorf("forecast in Chinese: %+v", fc.Forecasts)
		}
		var failed api.RunDetailResponse
		getIn(t, "/api/v1/runs/"+burst.Evidence.RunIDs[1]+"?lang=zh", nil, &failed)
		if failed.Diagnosis == nil || len(failed.Diagnosis.Anomalies) == 0 || !strings.Contains(failed.Diagnosis.Anomalies[0].Summary, "次运行中失败") {
			t.Errorf("a failed run's diagnosis in Chinese: %+v", failed.Diagnosis)
		}
	})
	t.Run("console", func(t *testing.T) {
		for _, c := range []struct {
			target string
			code   int
			want   []string
		}{
			{"/ui/diagnosis?sync_type=prices&source=d1", 200, []string{`id="anomalies"`, "Failure burst", "ongoing", `id="hints"`, "new error", "Forecasts", "not within 30 days"}},
			{"/ui/diagnosis?sync_type=prices&source=d1&lang=zh", 200, []string{"集中失败", "次运行中失败", "基线失败率", "可能的原因", "新出现的错误，涉及 ", "开始于 ", "预测", "30 天内不会达到"}},
			{"/ui/diagnosis?sync_type=stock&source=young", 200, []string{"not enough history (0 / 8)", `id="no-anomalies"`}},
			{"/ui/diagnosis", 200, []string{`id="filters"`}},
			{"/ui/diagnosis?sync_type=shoes", 400, []string{"sync_type"}},
			{"/ui/runs/" + burst.Evidence.RunIDs[1], 200, []string{`id="why"`, "Failure burst", `id="hints"`}},
			{"/ui/runs/" + burst.Evidence.RunIDs[1] + "?lang=zh", 200, []string{`id="why"`, "原因", "集中失败", "次运行中失败", "新出现的错误，涉及 "}},
			{"/ui/runs/young-e", 200, []string{`id="run-id"`}},
		} {
			w := env.Do(http.MethodGet, c.target, nil, nil)
			if w.Code != c.code {
				t.Errorf("%s: %d, want %d: %.500s", c.target, w.Code, c.code, w.Body)
				continue
			}
			for _, want := range c.want {
				if !strings.Contains(w.Body.String(), want) {
					t.Errorf("%s lacks %q", c.target, want)
				}
			}
			if strings.HasPrefix(c.target, "/ui/runs/young") && strings.Contains(w.Body.String(), `id="why"`) {
				t.Errorf("a plain successful run has a why panel")
			}
		}
	})
	t.Run("digest insights", func(t *testing.T) {
		for lang, prefix := range map[string]string{"en": "failure_rate: ", "zh": "集中失败：连续 "} {
			ins, err := diaginsights.New(svc, "https://sw.example").Insights(context.Background(), digest.Scope{Sources: []string{"d1"}},
				digest.Period{Kind: "daily", Start: end.Add(-24 * time.Hour), End: end}, lang)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, in := range ins {
				if in.Kind == "anomaly" && in.SyncType == "prices" && strings.HasPrefix(in.Summary, prefix) &&
					in.Link == "https://sw.example/ui/diagnosis?source=d1&sync_type=prices" {
					found = true
				}
			}
			if !found {
				t.Errorf("the digest's insights in %s lack the failure burst of d1/prices: %+v", lang, ins)
			}
		}
	})
	t.Run("refused", func(t *testing.T) {
		w := contract.Call(t, env.Handler(), http.MethodGet, "/api/v1/diagnostics/root-cause?source=d1", contract.Options{})
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), `"field":"sync_type"`) {
			t.Errorf("%d %s", w.Code, w.Body)
		}
	})
}
