package api

import (
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/syncwatch/syncwatch/runs"

	"github.com/syncwatch/syncwatch/synclog"
)

// ParamError is a bad query parameter: 400 with the parameter's name.
type ParamError struct {
	// Field names the parameter at fault, when there is one.
	Field string
	// Msg says what is wrong with it.
	Msg string
}

// Error returns the message.
func (e *ParamError) Error() string { return e.Msg }

// BadParam returns the error of parameter field, its message formatted.
func BadParam(field, format string, args ...any) *ParamError {
	return &ParamError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// QueryValues parses a raw query string and refuses parameters not in
// accepted, so that a misspelt one is not silently ignored.
func QueryValues(raw string, accepted ...string) (url.Values, *ParamError) {
	v, err := url.ParseQuery(raw)
	if err != nil {
		return nil, BadParam("", "the query string is malformed: %v", err)
	}
	names := make([]string, 0, len(v))
	for name := range v {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !slices.Contains(accepted, name) {
			if len(accepted) == 0 {
				return nil, BadParam(Clip(name), "unknown parameter %q: this endpoint takes no parameters", Clip(name))
			}
			sorted := slices.Clone(accepted)
			slices.Sort(sorted)
			return nil, BadParam(Clip(name), "unknown parameter %q: accepted are %s", Clip(name), strings.Join(sorted, ", "))
		}
	}
	return v, nil
}

// Clip shortens user input quoted in an error message.
func Clip(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if utf8.RuneCountInString(s) <= 64 {
		return s
	}
	return string([]rune(s)[:64]) + "…"
}

// Single returns the one value of a parameter, "" when absent.
func Single(v url.Values, name string) (string, *ParamError) {
	vals := v[name]
	switch len(vals) {
	case 0:
		return "", nil
	case 1:
		return vals[0], nil
	}
	return "", BadParam(name, "%s is given %d times: give it once", name, len(vals))
}

// list returns the values of a repeatable parameter, each occurrence split
// at commas, trimmed, without empty items or repetitions.
func ParamList(v url.Values, name string) []string {
	var out []string
	for _, val := range v[name] {
		for item := range strings.SplitSeq(val, ",") {
			if item = strings.TrimSpace(item); item != "" && !slices.Contains(out, item) {
				out = append(out, item)
			}
		}
	}
	return out
}

var sourcePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

// Bounds of the times a parameter may give.
var (
	minParamTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxParamTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// parseTimeParam parses an RFC 3339 time or a date (YYYY-MM-DD, in loc).
// A date means its midnight, or for an upper bound (end) the midnight
// after it, so that since=D&until=D selects the whole day D. Times are
// rounded up to the millisecond, the precision of stored times, which
// keeps both bounds exact.
func parseTimeParam(name, val string, loc *time.Location, end bool) (time.Time, *ParamError) {
	var t time.Time
	if len(val) == len(time.DateOnly) {
		d, err := time.ParseInLocation(time.DateOnly, val, loc)
		if err != nil {
			return t, BadParam(name, "%s %q is not a valid date (YYYY-MM-DD)", name, Clip(val))
		}
		t = d
		if end {
			t = time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, loc)
		}
	} else {
		p, err := time.Parse(time.RFC3339Nano, val)
		if err != nil {
			return t, BadParam(name, "%s %q is not a time: use RFC 3339 (2026-01-02T15:04:05Z) or a date (2026-01-02)", name, Clip(val))
		}
		t = p
	}
	// An upper bound is exclusive: 2200-01-01T00:00Z, the end of the last
	// day allowed, selects nothing beyond it.
	if t.Before(minParamTime) || t.After(maxParamTime) || (!end && t.Equal(maxParamTime)) {
		return time.Time{}, BadParam(name, "%s must lie between 1970-01-01 and 2199-12-31", name)
	}
	if r := t.Truncate(time.Millisecond); !r.Equal(t) {
		t = r.Add(time.Millisecond)
	}
	return t.UTC(), nil
}

// timeRange reads since and until. Missing bounds stay zero unless
// defaultSpan is set: then until defaults to now and since to until minus
// defaultSpan. Unless anyRange, the range may not exceed the retention
// (plus a day, so that whole calendar days covering it can be asked for).
func timeRange(v url.Values, env Env, loc *time.Location, defaultSpan time.Duration, anyRange bool) (since, until time.Time, perr *ParamError) {
	sv, perr := Single(v, "since")
	if perr != nil {
		return
	}
	uv, perr := Single(v, "until")
	if perr != nil {
		return
	}
	if sv != "" {
		if since, perr = parseTimeParam("since", sv, loc, false); perr != nil {
			return
		}
	}
	if uv != "" {
		if until, perr = parseTimeParam("until", uv, loc, true); perr != nil {
			return
		}
	}
	if defaultSpan > 0 {
		if until.IsZero() {
			until = env.now.Truncate(time.Millisecond).Add(time.Millisecond)
		}
		if since.IsZero() {
			since = until.Add(-defaultSpan)
		}
	}
	if !since.IsZero() && !until.IsZero() && !since.Before(until) {
		return since, until, BadParam("since", "since (%s) must be before until (%s)", since.Format(time.RFC3339Nano), until.Format(time.RFC3339Nano))
	}
	if !since.IsZero() && !anyRange {
		end := until
		if end.IsZero() {
			end = env.now
		}
		if end.Sub(since) > env.retention+24*time.Hour {
			return since, until, BadParam("since", "the range from since to until spans %.1f days: at most the retention of %s (plus a day) can be queried",
				end.Sub(since).Hours()/24, formatDays(env.retention))
		}
	}
	return since, until, nil
}

func formatDays(d time.Duration) string {
	days := d.Hours() / 24
	if days == math.Trunc(days) {
		return fmt.Sprintf("%d days", int(days))
	}
	return d.String()
}

// filterOptions say which filter parameters an endpoint takes.
type filterOptions struct {
	statuses bool
	// defaultSpan is the range when since and until are missing.
	defaultSpan time.Duration
	// loc interprets dates; UTC when nil.
	loc *time.Location
	// anyRange lifts the limit of the range to the retention.
	anyRange bool
}

// parseFilter reads source, sync_type, status, since, until and q.
func parseFilter(v url.Values, env Env, o filterOptions) (runs.Filter, *ParamError) {
	var f runs.Filter
	for _, s := range ParamList(v, "source") {
		s = strings.ToLower(s)
		if !sourcePattern.MatchString(s) {
			return f, BadParam("source", "source %q: must be 1-64 characters of a-z, 0-9, '_', '-' or '.', starting with a letter or digit", Clip(s))
		}
		if !slices.Contains(f.Sources, s) {
			f.Sources = append(f.Sources, s)
		}
	}
	for _, st := range ParamList(v, "sync_type") {
		st = strings.ToLower(st)
		if !env.types.Contains(st) {
			return f, BadParam("sync_type", "unknown sync_type %q: allowed are %s", Clip(st), env.types)
		}
		if !slices.Contains(f.SyncTypes, st) {
			f.SyncTypes = append(f.SyncTypes, st)
		}
	}
	if o.statuses {
		for _, s := range ParamList(v, "status") {
			st, err := synclog.ParseStatus(s)
			if err != nil {
				return f, BadParam("status", "unknown status %q: allowed are %s", Clip(s), statusNames())
			}
			if !slices.Contains(f.Statuses, st) {
				f.Statuses = append(f.Statuses, st)
			}
		}
	}
	q, perr := Single(v, "q")
	if perr != nil {
		return f, perr
	}
	if !utf8.ValidString(q) {
		return f, BadParam("q", "q must be valid UTF-8")
	}
	if n := utf8.RuneCountInString(q); n > MaxQueryLength {
		return f, BadParam("q", "q is %d characters long: at most %d", n, MaxQueryLength)
	}
	f.Query = q
	loc := o.loc
	if loc == nil {
		loc = time.UTC
	}
	f.Since, f.Until, perr = timeRange(v, env, loc, o.defaultSpan, o.anyRange)
	return f, perr
}

func statusNames() string {
	names := make([]string, len(synclog.Statuses))
	for i, s := range synclog.Statuses {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

// parseLimit reads an integer parameter between 1 and max.
func parseLimit(v url.Values, name string, def, max int) (int, *ParamError) {
	s, perr := Single(v, name)
	if perr != nil || s == "" {
		return def, perr
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 1 || n > max {
		return 0, BadParam(name, "%s %q: must be an integer between 1 and %d", name, Clip(s), max)
	}
	return n, nil
}

// parseTZ reads the tz parameter: an IANA time zone name, UTC by default.
func parseTZ(v url.Values) (*time.Location, *ParamError) {
	tz, perr := Single(v, "tz")
	if perr != nil {
		return nil, perr
	}
	tz = strings.TrimSpace(tz)
	if tz == "" {
		return time.UTC, nil
	}
	bad := BadParam("tz", "unknown time zone %q: use an IANA name such as UTC, Europe/Berlin or Asia/Shanghai", Clip(tz))
	if len(tz) > 64 || tz == "Local" {
		return nil, bad
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, bad
	}
	return loc, nil
}
