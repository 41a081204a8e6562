package grafana

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"
)

// chEnv is what Grafana and the ClickHouse plugin expand a panel's SQL
// with before it reaches ClickHouse: the dashboard's time range, the
// panel's interval, and the values of the template variables.
type chEnv struct {
	from, to time.Time
	interval time.Duration
	// vars are the selected values of each variable; all lists the
	// variables set to All (whose values are then every option).
	vars map[string][]string
	all  map[string]bool
}

// templateVar matches a template variable: ${name}, ${name:format} or
// $name (not $__macro).
var templateVar = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)(?::([a-z]+))?\}|\$([A-Za-z][A-Za-z0-9_]*)`)

// expand returns sql as ClickHouse receives it: first Grafana's
// $__conditionalAll and template variables (in the browser), then the
// plugin's macros (in its backend). Unknown variables, formats and
// macros are errors, so that a panel cannot use what this expander does
// not know.
func (e chEnv) expand(sql string) (string, error) {
	out, err := e.conditionalAll(sql)
	if err != nil {
		return "", err
	}
	var varErr error
	out = templateVar.ReplaceAllStringFunc(out, func(m string) string {
		sub := templateVar.FindStringSubmatch(m)
		name, format := sub[1], sub[2]
		if name == "" {
			name = sub[3]
		}
		values, ok := e.vars[name]
		if !ok {
			varErr = fmt.Errorf("unknown variable %s", m)
			return m
		}
		s, err := formatValues(values, format)
		if err != nil {
			varErr = fmt.Errorf("%s: %w", m, err)
		}
		return s
	})
	if varErr != nil {
		return "", varErr
	}
	return e.macros(out)
}

// formatValues renders a variable's values as Grafana's formats do.
func formatValues(values []string, format string) (string, error) {
	switch format {
	case "singlequote":
		q := make([]string, len(values))
		for i, v := range values {
			q[i] = "'" + strings.ReplaceAll(v, "'", `\'`) + "'"
		}
		return strings.Join(q, ","), nil
	case "doublequote":
		q := make([]string, len(values))
		for i, v := range values {
			q[i] = `"` + strings.ReplaceAll(v, `"`, `\"`) + `"`
		}
		return strings.Join(q, ","), nil
	case "csv", "raw":
		return strings.Join(values, ","), nil
	case "":
		// Grafana renders several values of an unformatted variable as
		// {a,b}, which is no SQL: panels must name a format then.
		if len(values) != 1 {
			return "", fmt.Errorf("%d values need a format such as :singlequote", len(values))
		}
		return values[0], nil
	}
	return "", fmt.Errorf("unknown format %q", format)
}

// conditionalAll replaces $__conditionalAll(condition, $var) with 1=1 when
// the variable is All and with the condition otherwise, as the plugin's
// frontend does.
func (e chEnv) conditionalAll(sql string) (string, error) {
	const name = "$__conditionalAll("
	for {
		i := strings.Index(sql, name)
		if i < 0 {
			return sql, nil
		}
		args, end, err := macroArgs(sql, i+len(name)-1)
		if err != nil {
			return "", err
		}
		if len(args) != 2 {
			return "", fmt.Errorf("$__conditionalAll needs 2 arguments, has %d", len(args))
		}
		v := strings.Trim(strings.TrimSpace(args[1]), "${}")
		if _, ok := e.vars[v]; !ok {
			return "", fmt.Errorf("$__conditionalAll: unknown variable %q", args[1])
		}
		repl := args[0]
		if e.all[v] {
			repl = "1=1"
		}
		sql = sql[:i] + repl + sql[end:]
	}
}

// macroName matches the start of one of the plugin's macros.
var macroName = regexp.MustCompile(`\$__([A-Za-z_]+)`)

// macros expands the plugin's macros (pkg/macros of
// grafana-clickhouse-datasource 4.x).
func (e chEnv) macros(sql string) (string, error) {
	var b strings.Builder
	rest := sql
	for {
		loc := macroName.FindStringSubmatchIndex(rest)
		if loc == nil {
			b.WriteString(rest)
			return b.String(), nil
		}
		b.WriteString(rest[:loc[0]])
		name := rest[loc[2]:loc[3]]
		after := loc[1]
		var args []string
		if after < len(rest) && rest[after] == '(' {
			a, end, err := macroArgs(rest, after)
			if err != nil {
				return "", fmt.Errorf("$__%s: %w", name, err)
			}
			args, after = a, end
		}
		repl, err := e.macro(name, args)
		if err != nil {
			return "", err
		}
		b.WriteString(repl)
		rest = rest[after:]
	}
}

// macro renders one macro.
func (e chEnv) macro(name string, args []string) (string, error) {
	want := map[string]int{
		"timeFilter": 1, "timeFilter_ms": 1, "dateFilter": 1, "dateTimeFilter": 2, "dt": 2,
		"timeInterval": 1, "timeInterval_ms": 1,
		"interval_s": 0, "fromTime": 0, "toTime": 0, "fromTime_ms": 0, "toTime_ms": 0,
	}
	n, ok := want[name]
	if !ok {
		return "", fmt.Errorf("unknown macro $__%s", name)
	}
	if len(args) != n {
		return "", fmt.Errorf("$__%s takes %d arguments, has %d", name, n, len(args))
	}
	dt := func(t time.Time) string { return fmt.Sprintf("toDateTime(%d)", t.Unix()) }
	dt64 := func(t time.Time) string { return fmt.Sprintf("fromUnixTimestamp64Milli(%d)", t.UnixMilli()) }
	date := func(t time.Time) string { return fmt.Sprintf("toDate('%s')", t.UTC().Format("2006-01-02")) }
	seconds := int(math.Max(e.interval.Seconds(), 1))
	switch name {
	case "timeFilter":
		return fmt.Sprintf("%s >= %s AND %s <= %s", args[0], dt(e.from), args[0], dt(e.to)), nil
	case "timeFilter_ms":
		return fmt.Sprintf("%s >= %s AND %s <= %s", args[0], dt64(e.from), args[0], dt64(e.to)), nil
	case "dateFilter":
		return fmt.Sprintf("%s >= %s AND %s <= %s", args[0], date(e.from), args[0], date(e.to)), nil
	case "dateTimeFilter", "dt":
		return fmt.Sprintf("(%s >= %s AND %s <= %s) AND (%s >= %s AND %s <= %s)",
			args[0], date(e.from), args[0], date(e.to), args[1], dt(e.from), args[1], dt(e.to)), nil
	case "timeInterval":
		return fmt.Sprintf("toStartOfInterval(toDateTime(%s), INTERVAL %d second)", args[0], seconds), nil
	case "timeInterval_ms":
		return fmt.Sprintf("toStartOfInterval(toDateTime64(%s, 3), INTERVAL %d millisecond)", args[0], max(e.interval.Milliseconds(), 1)), nil
	case "interval_s":
		return fmt.Sprint(seconds), nil
	case "fromTime":
		return dt(e.from), nil
	case "toTime":
		return dt(e.to), nil
	case "fromTime_ms":
		return dt64(e.from), nil
	case "toTime_ms":
		return dt64(e.to), nil
	}
	return "", fmt.Errorf("unknown macro $__%s", name)
}

// macroArgs splits the parenthesised arguments that start at s[open] at
// their top-level commas, and returns the index after the closing
// parenthesis. Parentheses and quoted strings nest.
func macroArgs(s string, open int) ([]string, int, error) {
	depth := 0
	var quote byte
	start := open + 1
	var args []string
	for i := open; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"' || c == '`':
			quote = c
		case c == '(':
			depth++
		case c == ')':
			depth--
			if depth == 0 {
				if a := strings.TrimSpace(s[start:i]); a != "" || len(args) > 0 {
					args = append(args, a)
				}
				return args, i + 1, nil
			}
		case c == ',' && depth == 1:
			args = append(args, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	return nil, 0, fmt.Errorf("unbalanced parentheses in %q", s[open:])
}

func TestExpandClickHouse(t *testing.T) {
	e := chEnv{
		from:     time.Unix(1_700_000_000, 0),
		to:       time.Unix(1_700_003_600, 0),
		interval: 5 * time.Minute,
		vars: map[string][]string{
			"sync_type": {"products", "stock"},
			"source":    {"o'hara"},
			"status":    {"failed"},
		},
		all: map[string]bool{"sync_type": true},
	}
	for _, c := range []struct{ in, want string }{
		{"WHERE $__timeFilter(started_at)", "WHERE started_at >= toDateTime(1700000000) AND started_at <= toDateTime(1700003600)"},
		{"$__timeFilter_ms(t)", "t >= fromUnixTimestamp64Milli(1700000000000) AND t <= fromUnixTimestamp64Milli(1700003600000)"},
		{"SELECT $__timeInterval(started_at) AS time", "SELECT toStartOfInterval(toDateTime(started_at), INTERVAL 300 second) AS time"},
		{"$__interval_s", "300"},
		{"$__fromTime AND $__toTime", "toDateTime(1700000000) AND toDateTime(1700003600)"},
		{"$__dateFilter(day)", "day >= toDate('2023-11-14') AND day <= toDate('2023-11-14')"},
		{"sync_type IN (${sync_type:singlequote})", "sync_type IN ('products','stock')"},
		{"source IN (${source:singlequote})", `source IN ('o\'hara')`},
		{"status = '$status'", "status = 'failed'"},
		{"x = ${status}", "x = failed"},
		{"$__conditionalAll(sync_type IN (${sync_type:singlequote}), $sync_type) AND 1", "1=1 AND 1"},
		{"$__conditionalAll(f(source, 'a,b'), ${source})", "f(source, 'a,b')"},
		{"toStartOfInterval(x, INTERVAL $__interval_s second)", "toStartOfInterval(x, INTERVAL 300 second)"},
	} {
		got, err := e.expand(c.in)
		if err != nil || got != c.want {
			t.Errorf("expand(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{
		"$__noSuchMacro(x)",
		"$nosuchvar",
		"${sync_type:nosuchformat}",
		"IN ($sync_type)", // several values need a format
		"$__timeFilter(a, b)",
		"$__timeFilter(a",
		"$__conditionalAll(x)",
	} {
		if got, err := e.expand(bad); err == nil {
			t.Errorf("expand(%q) = %q, want an error", bad, got)
		}
	}
}
