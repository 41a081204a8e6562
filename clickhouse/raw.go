package clickhouse

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Column is the name and ClickHouse type of one column of a result.
type Column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// ErrNotReadOnly is returned by QueryJSON and QueryColumns for a statement
// that is not a query.
var ErrNotReadOnly = errors.New("clickhouse: only SELECT (or WITH … SELECT) statements are allowed")

// QueryJSON runs one read-only SQL statement as it is written, with no
// bound parameters, and returns its rows as maps from column name to value
// (numbers as json.Number, DateTime values as ISO 8601 strings). It is
// meant for tests and tools, such as the checks that run the Grafana
// dashboards' queries on the real schema; the program's own queries use
// bound parameters instead. Statements other than SELECT and WITH … SELECT
// are refused with ErrNotReadOnly. That check guards against mistakes, not
// against hostile SQL: do not pass it untrusted input.
func (s *Store) QueryJSON(ctx context.Context, sql string) ([]map[string]any, error) {
	q, err := readOnlyQuery(sql)
	if err != nil {
		return nil, err
	}
	out, err := s.eng.selectRows(ctx, q, nil)
	if err != nil {
		return nil, err
	}
	lines := splitLines(out)
	rows := make([]map[string]any, 0, len(lines))
	for _, line := range lines {
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.UseNumber()
		var row map[string]any
		if err := dec.Decode(&row); err != nil {
			return nil, fmt.Errorf("decode row %.200q: %w", line, err)
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// QueryColumns returns the columns, in order, that a read-only SQL
// statement returns, without running it: the answer holds even for a
// query that selects no rows. Like QueryJSON it is meant for tests and
// tools and refuses anything but SELECT and WITH … SELECT.
func (s *Store) QueryColumns(ctx context.Context, sql string) ([]Column, error) {
	q, err := readOnlyQuery(sql)
	if err != nil {
		return nil, err
	}
	out, err := s.eng.selectRows(ctx, "DESCRIBE TABLE ("+q+")", nil)
	if err != nil {
		return nil, err
	}
	cols, err := decodeRows[Column](out)
	if err != nil {
		return nil, err
	}
	return cols, nil
}

// readOnlyQuery returns sql without surrounding space and trailing
// semicolons, or ErrNotReadOnly when it does not start with SELECT or WITH
// (after comments).
func readOnlyQuery(sql string) (string, error) {
	q := strings.TrimSpace(sql)
	for strings.HasSuffix(q, ";") {
		q = strings.TrimSpace(strings.TrimSuffix(q, ";"))
	}
	rest := q
	for {
		rest = strings.TrimSpace(rest)
		switch {
		case strings.HasPrefix(rest, "--"):
			if i := strings.IndexByte(rest, '\n'); i >= 0 {
				rest = rest[i+1:]
				continue
			}
			rest = ""
		case strings.HasPrefix(rest, "/*"):
			if i := strings.Index(rest, "*/"); i >= 0 {
				rest = rest[i+2:]
				continue
			}
			rest = ""
		}
		break
	}
	word := rest
	if i := strings.IndexFunc(rest, func(r rune) bool { return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z') }); i >= 0 {
		word = rest[:i]
	}
	switch strings.ToUpper(word) {
	case "SELECT", "WITH":
		return q, nil
	}
	return "", ErrNotReadOnly
}
