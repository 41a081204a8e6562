package clickhouse

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"reflect"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// nativeEngine talks to a ClickHouse server over the native protocol.
type nativeEngine struct {
	conn driver.Conn
	// asyncInsert makes inserts asynchronous (see insertSettings).
	asyncInsert bool
}

// nativeOptions are what a store sets on its connection beyond the DSN.
type nativeOptions struct {
	// settings apply to every query; the DSN's own win.
	settings ch.Settings
	// asyncInsert makes inserts asynchronous (see insertSettings).
	asyncInsert bool
}

// openNative connects to the server named by dsn
// (clickhouse://user:pass@host:9000/db?dial_timeout=5s&compress=lz4&secure=true).
// Compression defaults to LZ4.
func openNative(ctx context.Context, dsn string) (*nativeEngine, error) {
	return openNativeWith(ctx, dsn, nativeOptions{})
}

// openNativeWith is openNative with options.
func openNativeWith(ctx context.Context, dsn string, o nativeOptions) (*nativeEngine, error) {
	opts, err := ch.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse clickhouse dsn: %w", err)
	}
	for k, v := range o.settings {
		if _, set := opts.Settings[k]; !set {
			if opts.Settings == nil {
				opts.Settings = ch.Settings{}
			}
			opts.Settings[k] = v
		}
	}
	if opts.Compression == nil {
		opts.Compression = &ch.Compression{Method: ch.CompressionLZ4}
	}
	if opts.DialTimeout == 0 {
		opts.DialTimeout = 5 * time.Second
	}
	conn, err := ch.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("open clickhouse %s: %w", redactDSN(dsn), err)
	}
	if err := conn.Ping(ctx); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("ping clickhouse %s: %w", redactDSN(dsn), err)
	}
	return &nativeEngine{conn: conn, asyncInsert: o.asyncInsert}, nil
}

func (e *nativeEngine) kind() string { return "server" }

func (e *nativeEngine) withParams(ctx context.Context, params Params) (context.Context, error) {
	if len(params) == 0 {
		return ctx, nil
	}
	enc, err := params.encode()
	if err != nil {
		return nil, err
	}
	return ch.Context(ctx, ch.WithParameters(ch.Parameters(enc))), nil
}

func (e *nativeEngine) exec(ctx context.Context, query string, params Params) error {
	ctx, err := e.withParams(ctx, params)
	if err != nil {
		return err
	}
	if err := e.conn.Exec(ctx, query); err != nil {
		return queryError(ctx, err)
	}
	return nil
}

// selectRows scans every column into the type the driver reports for it and
// renders each row as a JSON object, the same shape the embedded engine's
// JSONEachRow output has.
func (e *nativeEngine) selectRows(ctx context.Context, query string, params Params) ([]byte, error) {
	ctx, err := e.withParams(ctx, params)
	if err != nil {
		return nil, err
	}
	rows, err := e.conn.Query(ctx, query)
	if err != nil {
		return nil, queryError(ctx, err)
	}
	defer rows.Close()
	types := rows.ColumnTypes()
	names := rows.Columns()
	dest := make([]any, len(types))
	var out bytes.Buffer
	for rows.Next() {
		for i, t := range types {
			dest[i] = reflect.New(t.ScanType()).Interface()
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("scan row: %w", queryError(ctx, err))
		}
		out.WriteByte('{')
		for i, name := range names {
			if i > 0 {
				out.WriteByte(',')
			}
			k, _ := json.Marshal(name)
			out.Write(k)
			out.WriteByte(':')
			v, err := json.Marshal(jsonValue(reflect.ValueOf(dest[i]).Elem().Interface()))
			if err != nil {
				return nil, fmt.Errorf("encode column %s: %w", name, err)
			}
			out.Write(v)
		}
		out.WriteString("}\n")
	}
	if err := rows.Err(); err != nil {
		return nil, queryError(ctx, err)
	}
	return out.Bytes(), nil
}

// jsonValue maps values JSON cannot hold (NaN, ±Inf) to null.
func jsonValue(v any) any {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
	case float32:
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return nil
		}
	case *float64:
		if x != nil && (math.IsNaN(*x) || math.IsInf(*x, 0)) {
			return nil
		}
	}
	return v
}

func (e *nativeEngine) insertReports(ctx context.Context, rows []reportRow, token string) error {
	if len(rows) == 0 {
		return nil
	}
	settings := ch.Settings{}
	for _, s := range insertSettings(token, e.asyncInsert) {
		settings[s[0]] = s[1]
	}
	ctx = ch.Context(ctx, ch.WithSettings(settings))
	batch, err := e.conn.PrepareBatch(ctx, "INSERT INTO reports ("+reportColumnList+")")
	if err != nil {
		return queryError(ctx, err)
	}
	for i := range rows {
		if err := batch.Append(rows[i].values()...); err != nil {
			_ = batch.Abort()
			return fmt.Errorf("append report %s: %w", rows[i].EventID, err)
		}
	}
	if err := batch.Send(); err != nil {
		return queryError(ctx, err)
	}
	return nil
}

func (e *nativeEngine) close() error { return e.conn.Close() }

// queryError is the error a statement returns for err from the driver:
// the context's error when ctx has ended, which the driver may report as
// an I/O timeout on its connection, and otherwise wrapServerError's.
func queryError(ctx context.Context, err error) error {
	ctxErr := ctx.Err()
	if ctxErr == nil {
		// The driver sets ctx's deadline on the connection, and that
		// timeout can fire just before ctx's own timer does.
		if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
			ctxErr = context.DeadlineExceeded
		}
	}
	if ctxErr != nil && !errors.Is(err, ctxErr) {
		return fmt.Errorf("%w (%v)", ctxErr, err)
	}
	return wrapServerError(err)
}

// wrapServerError turns an exception from the server into a *ServerError
// and keeps other errors (network, context) as they are.
func wrapServerError(err error) error {
	var ex *ch.Exception
	if errors.As(err, &ex) {
		return &ServerError{Code: ex.Code, Message: ex.Message}
	}
	return err
}

// redactDSN hides the password of a DSN for error messages and logs.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable dsn)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
