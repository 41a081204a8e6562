package apptest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/syncwatch/syncwatch/clickhouse"
	"github.com/syncwatch/syncwatch/internal/testutil"
)

// storeSeq numbers the databases of this process.
var storeSeq atomic.Int64

// NewRealStore opens a migrated store on a database of its own in this
// process's embedded engine, whose data lives under TempRoot: the engine
// keeps one data directory per process, so every test shares it and gets
// a database of its own.
func NewRealStore(t testing.TB) *clickhouse.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	log := logrus.New()
	log.SetOutput(testutil.LogWriter{T: t})
	log.SetLevel(logrus.WarnLevel)
	st, err := clickhouse.Open(ctx, clickhouse.Config{
		DataDir:     filepath.Join(TempRoot(t), "engine"),
		LibchdbPath: Libchdb(t),
		Database:    fmt.Sprintf("collector_%d_%d", os.Getpid(), storeSeq.Add(1)),
		PoolSize:    2,
	}, log)
	if err != nil {
		t.Fatalf("open embedded store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return st
}
