package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/syncwatch/syncwatch/clickhouse"
)

// Verification compares the acknowledged event ids with what ClickHouse
// holds.
type Verification struct {
	DataDir string `json:"data_dir"`
	// Acked counts the acknowledged ids in the files; AckedUnique the
	// distinct ones (equal unless the generator repeated an id).
	Acked       int64 `json:"acked"`
	AckedUnique int64 `json:"acked_unique"`
	// Missing counts acknowledged ids that ClickHouse does not hold: lost.
	Missing int64 `json:"missing"`
	// Rows and StoredUnique are the reports table's rows and distinct
	// event ids; Duplicates is their difference before merges, and
	// RowsFinal the rows after deduplication (FINAL).
	Rows         int64 `json:"rows"`
	StoredUnique int64 `json:"stored_unique"`
	Duplicates   int64 `json:"duplicates"`
	RowsFinal    int64 `json:"rows_final"`
	// Unacked counts stored reports whose 2xx the generator never saw
	// (refused with a timeout on the client side, for instance): allowed,
	// never lost.
	Unacked int64 `json:"stored_not_acked"`
	OK      bool  `json:"ok"`
}

// runVerify opens a stopped server's data directory with the embedded
// engine and checks that every acknowledged report is stored exactly once.
func runVerify(args []string) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "", "the data directory of the stopped syncwatch serve")
	lib := fs.String("libchdb", os.Getenv("SYNCWATCH_LIBCHDB"), "path of libchdb.so (default: SYNCWATCH_LIBCHDB, else the cache)")
	database := fs.String("database", "syncwatch", "database of the embedded engine")
	ackedFile := fs.String("acked", "", "file of acknowledged event ids, one a line")
	out := fs.String("out", "", "file to write the JSON result to")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dataDir == "" || *ackedFile == "" {
		return errors.New("verify needs --data-dir and --acked")
	}
	acked, err := filepath.Abs(*ackedFile)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	log := logrus.New()
	log.SetOutput(io.Discard)
	store, err := clickhouse.Open(ctx, clickhouse.Config{DataDir: *dataDir, LibchdbPath: *lib, Database: *database, PoolSize: 1}, log)
	if err != nil {
		return err
	}
	defer store.Close()
	v := Verification{DataDir: *dataDir}
	// The acknowledged ids are read by the engine itself from the file:
	// no million-row round trip through Go.
	src := fmt.Sprintf("file('%s', 'LineAsString')", strings.ReplaceAll(acked, "'", `\'`))
	queries := []struct {
		sql  string
		dsts []*int64
	}{
		{"SELECT count() AS a, uniqExact(line) AS b FROM " + src, []*int64{&v.Acked, &v.AckedUnique}},
		{"SELECT count() AS a FROM " + src + " WHERE line NOT IN (SELECT event_id FROM reports)", []*int64{&v.Missing}},
		{"SELECT count() AS a, uniqExact(event_id) AS b FROM reports", []*int64{&v.Rows, &v.StoredUnique}},
		{"SELECT count() AS a FROM reports FINAL", []*int64{&v.RowsFinal}},
		{"SELECT count() AS a FROM reports WHERE event_id NOT IN (SELECT line FROM " + src + ")", []*int64{&v.Unacked}},
	}
	for _, q := range queries {
		rows, err := store.QueryJSON(ctx, q.sql)
		if err != nil {
			return fmt.Errorf("%s: %w", q.sql, err)
		}
		if len(rows) != 1 {
			return fmt.Errorf("%s: %d rows", q.sql, len(rows))
		}
		for i, key := range []string{"a", "b"}[:len(q.dsts)] {
			n, err := rows[0][key].(json.Number).Int64()
			if err != nil {
				return fmt.Errorf("%s: %s: %w", q.sql, key, err)
			}
			*q.dsts[i] = n
		}
	}
	v.Duplicates = v.Rows - v.StoredUnique
	v.OK = v.Missing == 0 && v.Duplicates == 0 && v.Acked == v.AckedUnique
	b, _ := json.MarshalIndent(v, "", "  ")
	if *out != "" {
		if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "verify %s: acked %d, missing %d, rows %d (distinct %d, after FINAL %d), duplicates %d, stored but not acked %d: %s\n",
		*dataDir, v.Acked, v.Missing, v.Rows, v.StoredUnique, v.RowsFinal, v.Duplicates, v.Unacked, map[bool]string{true: "OK", false: "FAILED"}[v.OK])
	if !v.OK {
		return errors.New("verification failed")
	}
	return nil
}
