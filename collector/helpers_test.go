package collector

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/syncwatch/syncwatch/auth"
	"github.com/syncwatch/syncwatch/internal/testutil"
	"github.com/syncwatch/syncwatch/synclog"
)

// The helpers the internal tests of the spool and the batcher use, from
// the shared test support.

var errDown = errors.New("clickhouse is down (test switch)")

func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	testutil.WaitFor(t, timeout, what, cond)
}

func newLogger() (*logrus.Logger, *testutil.Buffer) { return testutil.NewLogger() }

// openGuard admits everyone.
type openGuard struct{}

func (openGuard) Require(auth.Role) gin.HandlerFunc { return func(c *gin.Context) { c.Next() } }

// discardStorage forgets what it is given.
type discardStorage struct{}

func (discardStorage) InsertReports(context.Context, []synclog.Report) error { return nil }
func (discardStorage) ServerVersion(context.Context) (string, error)         { return "test", nil }

// newIngestHandler serves the ingest route alone, open to all, over a
// spool that a running batcher drains into a storage that forgets: for
// the fuzz tests, which need the handler and the package's internals
// together. Every other test of the service runs it as internal/app
// assembles it (internal/apptest).
func newIngestHandler(t testing.TB, cfg Config) http.Handler {
	t.Helper()
	log, _ := newLogger()
	reg := prometheus.NewRegistry()
	sp, err := OpenSpool(t.TempDir(), 1<<30, log)
	if err != nil {
		t.Fatal(err)
	}
	metrics := NewMetrics(reg)
	q, err := OpenQuarantine(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b := NewBatcher(sp, q, discardStorage{}, BatcherConfig{MaxAge: time.Millisecond}, log, metrics)
	cfg.SyncTypes = synclog.MustSyncTypes(synclog.DefaultSyncTypes)
	s, err := NewService(cfg, Deps{Log: log, Spool: sp, Batcher: b, Quarantine: q, Storage: discardStorage{}, Metrics: metrics, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	go b.Run()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = b.Stop(ctx)
		_ = sp.Close()
	})
	e := gin.New()
	s.Register(e, openGuard{})
	return e
}
