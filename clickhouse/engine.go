// Package clickhouse is syncwatch's storage: the connection to ClickHouse,
// either a server over the native protocol (clickhouse-go v2) or the
// embedded chDB engine loaded at run time, the golang-migrate migrations
// that build the schema, and the queries the rest of the program runs.
//
// Both ways of reaching ClickHouse run the same SQL. User input reaches that
// SQL only as bound {name:Type} parameters.
package clickhouse

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// engine is what the store needs of a ClickHouse connection. The embedded
// engine and the server connection both implement it, so that every query
// is written once.
type engine interface {
	// exec runs a statement that returns no rows.
	exec(ctx context.Context, query string, params Params) error
	// selectRows runs a SELECT and returns its rows as JSONEachRow lines,
	// with DateTime values in ISO 8601 and 64-bit integers unquoted.
	selectRows(ctx context.Context, query string, params Params) ([]byte, error)
	// insertReports appends rows to the reports table with the given
	// insert_deduplication_token and the settings of insertSettings.
	insertReports(ctx context.Context, rows []reportRow, token string) error
	// close releases the connection.
	close() error
	// kind names the engine for logs and health reports.
	kind() string
}

// Params are the values of a query's {name:Type} placeholders. Values are
// strings, []string, time.Time, integers, floats and bools; they are sent
// to ClickHouse apart from the SQL text, which never contains them.
type Params map[string]any

// encode renders the parameters in the text form ClickHouse parses for
// query parameters.
func (p Params) encode() (map[string]string, error) {
	out := make(map[string]string, len(p))
	for k, v := range p {
		s, err := encodeParam(v)
		if err != nil {
			return nil, fmt.Errorf("parameter %s: %w", k, err)
		}
		out[k] = s
	}
	return out, nil
}

// paramEscaper escapes a string for ClickHouse's escaped text format, the
// form query parameter values are parsed in.
var paramEscaper = strings.NewReplacer(`\`, `\\`, "\t", `\t`, "\n", `\n`, "\r", `\r`, "\x00", `\0`)

// quotedEscaper escapes a string inside a single-quoted literal of an array
// parameter.
var quotedEscaper = strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\t", `\t`, "\n", `\n`, "\r", `\r`, "\x00", `\0`)

func encodeParam(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return paramEscaper.Replace(x), nil
	case []string:
		var b strings.Builder
		b.WriteByte('[')
		for i, s := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('\'')
			b.WriteString(quotedEscaper.Replace(s))
			b.WriteByte('\'')
		}
		b.WriteByte(']')
		return b.String(), nil
	case []float64:
		return encodeList(x, func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }), nil
	case []uint64:
		return encodeList(x, func(v uint64) string { return strconv.FormatUint(v, 10) }), nil
	case []uint8:
		return encodeList(x, func(v uint8) string { return strconv.FormatUint(uint64(v), 10) }), nil
	case time.Time:
		return formatTime(x), nil
	case int:
		return strconv.Itoa(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case uint32:
		return strconv.FormatUint(uint64(x), 10), nil
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case bool:
		if x {
			return "1", nil
		}
		return "0", nil
	}
	return "", fmt.Errorf("unsupported type %T", v)
}

// encodeList renders a list of numbers as an array parameter.
func encodeList[T any](xs []T, format func(T) string) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, x := range xs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(format(x))
	}
	b.WriteByte(']')
	return b.String()
}

// formatTime renders t as a DateTime64(3, 'UTC') value.
func formatTime(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04:05.000")
}

// insertSettings are the settings of every insert into reports, stated
// rather than left to the server's defaults, which change between
// releases (ClickHouse 26.3 turned async_insert on):
//   - async_insert = 0 (the default, and always on the embedded engine): an
//     insert returns once its rows are in parts, so the spool forgets
//     reports only when ClickHouse has them and reads right after an
//     insert see it;
//   - with async (a server with --clickhouse-async-insert), async_insert =
//     1 and wait_for_async_insert = 1: the server gathers the inserts of
//     many collectors into fewer parts, and an insert still returns only
//     once its rows are in parts, so the spool's promise holds and reads
//     after it see them; each insert waits up to the flush interval
//     (async_insert_busy_timeout_ms).
//     async_insert_deduplicate = 1 keeps retried inserts idempotent on
//     replicated tables (cluster mode); on a single node's tables a
//     retried async insert may store its rows twice until merges and
//     FINAL collapse them (the tables are ReplacingMergeTrees on the
//     report's identity), which is why it is off by default;
//   - insert_deduplication_token: the insert's content, so that a repeated
//     insert adds nothing to the tables it already reached;
//   - deduplicate_blocks_in_dependent_materialized_views = 1: such a
//     repeated insert still fills, once, the views it had not reached.
//
// token is made by dedupToken, of hexadecimal digits.
func insertSettings(token string, async bool) [][2]string {
	if async {
		return [][2]string{
			{"async_insert", "1"},
			{"wait_for_async_insert", "1"},
			{"async_insert_deduplicate", "1"},
			{"insert_deduplication_token", token},
			{"deduplicate_blocks_in_dependent_materialized_views", "1"},
		}
	}
	return [][2]string{
		{"async_insert", "0"},
		{"insert_deduplication_token", token},
		{"deduplicate_blocks_in_dependent_materialized_views", "1"},
	}
}
