package clickhouse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// LibchdbVersion is the version of libchdb the project's scripts fetch and
// the embedded engine is tested with.
const LibchdbVersion = "26.5.3"

// DefaultLibchdbPath returns where the project's scripts put libchdb:
// ${XDG_CACHE_HOME:-$HOME/.cache}/syncwatch/libchdb/<version>/libchdb.so.
func DefaultLibchdbPath() string {
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = os.TempDir()
		}
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "syncwatch", "libchdb", LibchdbVersion, "libchdb.so")
}

// libchdb holds the functions of chDB's C API, resolved from libchdb.so at
// run time so that a binary that talks to a server never needs the library.
type libchdb struct {
	connect      func(argc int32, argv **byte) unsafe.Pointer
	closeConn    func(conn unsafe.Pointer)
	queryParams  func(conn unsafe.Pointer, query, format *byte, names, values **byte, n uintptr) unsafe.Pointer
	resultBuffer func(res unsafe.Pointer) unsafe.Pointer
	resultLength func(res unsafe.Pointer) uintptr
	resultError  func(res unsafe.Pointer) unsafe.Pointer
	destroy      func(res unsafe.Pointer)
}

// loadLibchdb opens libchdb.so at path and resolves the C API.
func loadLibchdb(path string) (*libchdb, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("libchdb not found at %s (run scripts/fetch-libchdb.sh or set --libchdb / SYNCWATCH_LIBCHDB, or configure a ClickHouse server with --clickhouse-dsn): %w", path, err)
	}
	h, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		return nil, fmt.Errorf("load libchdb %s: %w", path, err)
	}
	l := &libchdb{}
	for name, fn := range map[string]any{
		"chdb_connect":              &l.connect,
		"chdb_close_conn":           &l.closeConn,
		"chdb_query_with_params":    &l.queryParams,
		"chdb_result_buffer":        &l.resultBuffer,
		"chdb_result_length":        &l.resultLength,
		"chdb_result_error":         &l.resultError,
		"chdb_destroy_query_result": &l.destroy,
	} {
		sym, err := purego.Dlsym(h, name)
		if err != nil {
			return nil, fmt.Errorf("libchdb %s lacks %s (need chDB ≥ 25.8): %w", path, name, err)
		}
		purego.RegisterFunc(fn, sym)
	}
	return l, nil
}

// cString returns a NUL-terminated copy of s.
func cString(s string) *byte {
	b := make([]byte, len(s)+1)
	copy(b, s)
	return &b[0]
}

// goString copies the NUL-terminated C string at p.
func goString(p unsafe.Pointer) string {
	if p == nil {
		return ""
	}
	n := 0
	for *(*byte)(unsafe.Add(p, n)) != 0 {
		n++
	}
	return string(unsafe.Slice((*byte)(p), n))
}

// chdbEngine is the embedded ClickHouse engine: libchdb in this process,
// its data in a directory it locks. Connections form a small pool because
// a chDB connection runs one statement at a time.
type chdbEngine struct {
	lib   *libchdb
	conns chan unsafe.Pointer // chdb_connection* handles
	all   []unsafe.Pointer
	once  sync.Once
}

// openEmbedded starts (or joins) the process's embedded engine on dataDir
// and opens poolSize connections whose current database is database,
// creating it if needed.
func openEmbedded(libPath, dataDir, database string, poolSize int) (*chdbEngine, error) {
	if poolSize < 1 {
		poolSize = 1
	}
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	lib, err := loadLibchdb(libPath)
	if err != nil {
		return nil, err
	}
	e := &chdbEngine{lib: lib, conns: make(chan unsafe.Pointer, poolSize)}
	args := []string{"syncwatch", "--path=" + dataDir}
	for range poolSize {
		argv := make([]*byte, len(args))
		for i, a := range args {
			argv[i] = cString(a)
		}
		h := lib.connect(int32(len(argv)), &argv[0])
		runtime.KeepAlive(argv)
		if h == nil {
			e.close()
			return nil, fmt.Errorf("embedded clickhouse: cannot open data directory %s: another process (a running `syncwatch serve`?) holds its lock, or the directory is not usable", dataDir)
		}
		e.all = append(e.all, h)
		e.conns <- h
	}
	ctx := context.Background()
	if err := e.exec(ctx, "CREATE DATABASE IF NOT EXISTS "+quoteIdent(database), nil); err != nil {
		e.close()
		return nil, fmt.Errorf("create database %s: %w", database, err)
	}
	// The current database and output settings belong to a connection's
	// session: set them on every connection of the pool.
	session := []string{
		"USE " + quoteIdent(database),
		"SET date_time_output_format = 'iso'",
		"SET output_format_json_quote_64bit_integers = 0",
		"SET output_format_json_quote_denormals = 0",
	}
	for range poolSize {
		h := <-e.conns
		for _, stmt := range session {
			if _, err := e.query(h, stmt, "TabSeparated", nil); err != nil {
				e.conns <- h
				e.close()
				return nil, fmt.Errorf("prepare session (%s): %w", stmt, err)
			}
		}
		e.conns <- h
	}
	return e, nil
}

func (e *chdbEngine) kind() string { return "embedded" }

// query runs one statement on connection handle h.
func (e *chdbEngine) query(h unsafe.Pointer, query, format string, params map[string]string) ([]byte, error) {
	names := make([]*byte, 0, len(params)+1)
	values := make([]*byte, 0, len(params)+1)
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		names = append(names, cString(k))
		values = append(values, cString(params[k]))
	}
	// Keep the arrays non-empty so that &names[0] is valid.
	names = append(names, nil)
	values = append(values, nil)
	q, f := cString(query), cString(format)
	conn := *(*unsafe.Pointer)(h)
	res := e.lib.queryParams(conn, q, f, &names[0], &values[0], uintptr(len(keys)))
	runtime.KeepAlive(names)
	runtime.KeepAlive(values)
	runtime.KeepAlive(q)
	runtime.KeepAlive(f)
	if res == nil {
		return nil, errors.New("embedded clickhouse: query returned no result")
	}
	defer e.lib.destroy(res)
	if msg := e.lib.resultError(res); msg != nil {
		return nil, chdbError(goString(msg))
	}
	n := e.lib.resultLength(res)
	if n == 0 {
		return nil, nil
	}
	buf := e.lib.resultBuffer(res)
	return bytes.Clone(unsafe.Slice((*byte)(buf), n)), nil
}

// run takes a connection from the pool, runs the statement in its own
// goroutine and waits for it or for ctx. A statement cannot be interrupted
// inside chDB: on cancellation it finishes in the background and its
// connection returns to the pool then.
func (e *chdbEngine) run(ctx context.Context, query, format string, params Params) ([]byte, error) {
	enc, err := params.encode()
	if err != nil {
		return nil, err
	}
	var h unsafe.Pointer
	select {
	case h = <-e.conns:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if h == nil {
		e.conns <- h
		return nil, errors.New("embedded clickhouse: engine closed")
	}
	type result struct {
		out []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := e.query(h, query, format, enc)
		e.conns <- h
		done <- result{out, err}
	}()
	select {
	case r := <-done:
		return r.out, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (e *chdbEngine) exec(ctx context.Context, query string, params Params) error {
	_, err := e.run(ctx, query, "TabSeparated", params)
	return err
}

func (e *chdbEngine) selectRows(ctx context.Context, query string, params Params) ([]byte, error) {
	return e.run(ctx, query, "JSONEachRow", params)
}

func (e *chdbEngine) insertReports(ctx context.Context, rows []reportRow, token string) error {
	if len(rows) == 0 {
		return nil
	}
	// One thread per insert: the embedded engine shares the process's
	// cores with the ingest API, and parsing a batch in parallel only took
	// the API's core. In A/B runs of the single-report benchmark this
	// gained 15–20 % of the reports acknowledged and lowered their p99;
	// end to end under NDJSON it made no difference.
	var head strings.Builder
	head.WriteString("INSERT INTO reports (" + reportColumnList + ") SETTINGS input_format_parallel_parsing = 0, max_threads = 1, max_insert_threads = 1")
	for _, s := range insertSettings(token, false) {
		head.WriteString(", " + s[0] + " = '" + quotedEscaper.Replace(s[1]) + "'")
	}
	head.WriteString(" FORMAT JSONEachRow\n")
	// Reports run to a few hundred bytes; size the buffer once.
	b := make([]byte, 0, head.Len()+len(rows)*512)
	b = append(b, head.String()...)
	for i := range rows {
		b = rows[i].appendJSON(b)
		b = append(b, '\n')
	}
	return e.exec(ctx, string(b), nil)
}

// close closes every connection once all statements have finished.
func (e *chdbEngine) close() error {
	e.once.Do(func() {
		for range e.all {
			h := <-e.conns
			e.lib.closeConn(h)
		}
		// Wake any later caller with a closed marker.
		e.conns <- nil
	})
	return nil
}

// quoteIdent quotes a ClickHouse identifier with backquotes.
func quoteIdent(name string) string {
	var b bytes.Buffer
	b.WriteByte('`')
	for _, r := range name {
		if r == '`' || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('`')
	return b.String()
}

// chdbError turns chDB's error text, such as "Code: 60. DB::Exception:
// Unknown table expression identifier 'x' ... (UNKNOWN_TABLE)", into a
// ServerError with the code apart and the message alone, as a server
// reports them over the native protocol.
func chdbError(text string) *ServerError {
	text = strings.TrimSpace(text)
	rest, ok := strings.CutPrefix(text, "Code: ")
	if !ok {
		return &ServerError{Message: text}
	}
	num, msg, ok := strings.Cut(rest, ". ")
	code, err := strconv.ParseInt(num, 10, 32)
	if !ok || err != nil {
		return &ServerError{Message: text}
	}
	return &ServerError{Code: int32(code), Message: strings.TrimPrefix(msg, "DB::Exception: ")}
}

// ServerError is an error ClickHouse reported for a statement.
type ServerError struct {
	// Code is ClickHouse's error code where the server gave one.
	Code int32
	// Message is ClickHouse's text.
	Message string
}

// Error returns ClickHouse's message.
func (e *ServerError) Error() string { return "clickhouse: " + e.Message }

// Error codes of ClickHouse that say the statement or its data is at
// fault, so that it fails the same way however often it is repeated
// (src/Common/ErrorCodes.cpp).
const (
	codeCannotParseText            = 6
	codeCannotParseQuotedString    = 26
	codeCannotParseInputAssertion  = 27
	codeCannotParseDate            = 38
	codeCannotParseDateTime        = 41
	codeTypeMismatch               = 53
	codeArgumentOutOfBound         = 69
	codeCannotConvertType          = 70
	codeCannotParseNumber          = 72
	codeIncorrectData              = 117
	codeTooManyParts               = 252
	codeValueOutOfRangeOfDataType  = 321
	codeCannotInsertNullInOrdinary = 349
	codeViolatedConstraint         = 469
)

// Permanent reports whether ClickHouse refused the statement for what it
// says or carries rather than for its own state: repeating it would fail
// the same way, so the batcher sets its reports aside instead of retrying
// them forever. Errors without a code (a connection lost, a timeout) and
// codes not listed (memory, a read-only table, too many parts while merges
// catch up) are transient.
func (e *ServerError) Permanent() bool {
	switch e.Code {
	case codeCannotParseText, codeCannotParseQuotedString, codeCannotParseInputAssertion,
		codeCannotParseDate, codeCannotParseDateTime, codeTypeMismatch, codeArgumentOutOfBound,
		codeCannotConvertType, codeCannotParseNumber, codeIncorrectData,
		codeValueOutOfRangeOfDataType, codeCannotInsertNullInOrdinary, codeViolatedConstraint:
		return true
	case codeTooManyParts:
		// The same code says "too many parts" (merges are behind: wait)
		// and "too many partitions for single INSERT block" (the insert
		// itself is at fault).
		return strings.Contains(e.Message, "partitions for single INSERT block")
	}
	return false
}
