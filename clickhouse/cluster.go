package clickhouse

import (
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strings"
)

// Cluster mode spreads the schema over a ClickHouse cluster. The
// migrations are written once, for a single node; renderCluster turns each
// statement into its cluster form, generically, so that a new migration
// needs no cluster twin:
//
//   - CREATE TABLE t becomes two tables, both ON CLUSTER: t_local, the
//     data, with the Replicated form of its MergeTree engine (ZooKeeper path
//     /clickhouse/tables/{shard}/{database}/{table}, replica {replica}),
//     and t, a Distributed table over t_local with t's columns, sharded by
//     cityHash64(run_id) when t has a run_id column (every report of a run,
//     hence its latest state, on one shard, so that FINAL and per-run
//     queries are right shard by shard), by cityHash64(digest, channel)
//     for the digest ledger (the claims of one delivery meet on one shard,
//     where their insert deduplication token keeps the first), and by
//     rand() otherwise (a rollup fed by views on each shard, whose minima
//     and maxima do not care where a row lands).
//   - The program's SQL keeps naming t: reads and inserts go through the
//     Distributed table, and no query changes with the mode.
//   - CREATE MATERIALIZED VIEW v TO t AS SELECT … FROM s is created ON
//     CLUSTER on the local tables (TO t_local, FROM s_local AS s), so that
//     each shard fills its own rollups from the rows it receives.
//   - ALTER TABLE t goes to t_local ON CLUSTER, and also to t when it only
//     changes columns (the Distributed table's columns follow the data's).
//   - DROP TABLE t drops t and t_local ON CLUSTER; DROP VIEW and CREATE
//     VIEW run ON CLUSTER.
//   - INSERT … SELECT (a backfill) runs once, through the Distributed
//     tables.
//
// Anything else is refused, so that a migration the renderer does not
// understand fails its test instead of reaching a cluster half done.

// localSuffix names a Distributed table's local table.
const localSuffix = "_local"

// ClusterTablePath is the Keeper path of each replicated local table. The
// server expands {database} and {table} when the table is created and
// {shard} from each node's macros.
const ClusterTablePath = "/clickhouse/tables/{shard}/{database}/{table}"

// clusterName is what a cluster name may be: it is written into DDL.
var clusterName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)

// ValidClusterName reports whether name can name a cluster in syncwatch's
// DDL: letters, digits and '_', not starting with a digit.
func ValidClusterName(name string) bool { return clusterName.MatchString(name) }

// clusterRenderer renders migrations for one cluster.
type clusterRenderer struct {
	cluster string
	// tables are the tables the migrations create, renamed to their local
	// tables in cluster mode.
	tables map[string]bool
}

// newClusterRenderer returns the renderer for cluster, knowing the tables
// that every up migration in files creates.
func newClusterRenderer(cluster string, files fs.FS) (*clusterRenderer, error) {
	if !ValidClusterName(cluster) {
		return nil, fmt.Errorf("cluster name %q: use letters, digits and '_'", cluster)
	}
	r := &clusterRenderer{cluster: cluster, tables: map[string]bool{}}
	names, err := fs.Glob(files, "*.up.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	for _, name := range names {
		body, err := fs.ReadFile(files, name)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", name, err)
		}
		for _, stmt := range splitStatements(string(body)) {
			ts := tokenize(stmt)
			if i, ok := ts.match(0, "CREATE", "TABLE"); ok {
				if _, name, ok := ts.tableName(i); ok {
					r.tables[name] = true
				}
			}
		}
	}
	return r, nil
}

// renderStatements renders the statements of one migration file.
func (r *clusterRenderer) renderStatements(body string) ([]string, error) {
	var out []string
	for _, stmt := range splitStatements(body) {
		rendered, err := r.render(stmt)
		if err != nil {
			return nil, err
		}
		out = append(out, rendered...)
	}
	return out, nil
}

// render returns the cluster form of one statement: one or more
// statements.
func (r *clusterRenderer) render(stmt string) ([]string, error) {
	ts := tokenize(stmt)
	switch {
	case ts.has(0, "CREATE", "TABLE"):
		return r.createTable(ts)
	case ts.has(0, "CREATE", "MATERIALIZED", "VIEW"), ts.has(0, "CREATE", "VIEW"):
		return r.createView(ts)
	case ts.has(0, "ALTER", "TABLE"):
		return r.alterTable(ts)
	case ts.has(0, "DROP", "TABLE"), ts.has(0, "DROP", "VIEW"):
		return r.drop(ts)
	case ts.has(0, "INSERT", "INTO"):
		return []string{stmt}, nil
	}
	return nil, fmt.Errorf("cluster mode cannot render %q: only CREATE TABLE, CREATE [MATERIALIZED] VIEW, ALTER TABLE, DROP TABLE, DROP VIEW and INSERT are supported", ts.head(4))
}

func (r *clusterRenderer) onCluster() []token {
	return []token{{kind: tokSpace, text: " "}, {kind: tokWord, text: "ON"}, {kind: tokSpace, text: " "}, {kind: tokWord, text: "CLUSTER"}, {kind: tokSpace, text: " "}, {kind: tokWord, text: r.cluster}}
}

// createTable renders CREATE TABLE t as its local replicated table and the
// Distributed table over it.
func (r *clusterRenderer) createTable(ts tokens) ([]string, error) {
	i, _ := ts.match(0, "CREATE", "TABLE")
	ni, name, ok := ts.tableName(i)
	if !ok {
		return nil, fmt.Errorf("CREATE TABLE: no table name in %q", ts.head(6))
	}
	open := ts.next(ni + 1)
	if open < 0 || ts[open].text != "(" {
		return nil, fmt.Errorf("CREATE TABLE %s: want a column list", name)
	}
	closing := ts.closing(open)
	if closing < 0 {
		return nil, fmt.Errorf("CREATE TABLE %s: unbalanced parentheses", name)
	}
	ei := ts.findWord(closing+1, "ENGINE")
	if ei < 0 {
		return nil, fmt.Errorf("CREATE TABLE %s: no ENGINE", name)
	}
	eq := ts.next(ei + 1)
	en := ts.next(eq + 1)
	if eq < 0 || ts[eq].text != "=" || en < 0 || ts[en].kind != tokWord {
		return nil, fmt.Errorf("CREATE TABLE %s: want ENGINE = name", name)
	}
	engine := ts[en].text
	if !strings.HasSuffix(engine, "MergeTree") || strings.HasPrefix(engine, "Replicated") {
		return nil, fmt.Errorf("CREATE TABLE %s: engine %s has no replicated form here: want a non-replicated *MergeTree", name, engine)
	}
	replicaArgs := fmt.Sprintf("'%s', '{replica}'", ClusterTablePath)
	var local tokens
	local = append(local, ts[:ni]...)
	local = append(local, token{kind: tokWord, text: name + localSuffix})
	local = append(local, r.onCluster()...)
	local = append(local, ts[ni+1:en]...)
	local = append(local, token{kind: tokWord, text: "Replicated" + engine})
	rest := en + 1
	if ai := ts.next(en + 1); ai >= 0 && ts[ai].text == "(" {
		ac := ts.closing(ai)
		if ac < 0 {
			return nil, fmt.Errorf("CREATE TABLE %s: unbalanced engine arguments", name)
		}
		args := strings.TrimSpace(ts[ai+1 : ac].String())
		if args != "" {
			replicaArgs += ", " + args
		}
		rest = ac + 1
	}
	local = append(local, token{kind: tokPunct, text: "(" + replicaArgs + ")"})
	local = append(local, ts[rest:]...)

	// The Distributed table: the columns, without indexes, projections,
	// constraints and codecs, which belong to the data.
	var cols []string
	has := map[string]bool{}
	for _, item := range ts[open+1 : closing].splitTop(",") {
		first := item.next(0)
		if first < 0 {
			continue
		}
		switch strings.ToUpper(item[first].text) {
		case "INDEX", "PROJECTION", "CONSTRAINT":
			continue
		}
		has[item[first].unquoted()] = true
		cols = append(cols, "    "+strings.TrimSpace(item.withoutCall("CODEC").String()))
	}
	key := "rand()"
	switch {
	case has["run_id"]:
		key = "cityHash64(run_id)"
	case has["digest"] && has["channel"]:
		// The digest ledger: a delivery's claims must meet on one shard,
		// where their insert deduplication token lets one through.
		key = "cityHash64(digest, channel)"
	}
	dist := fmt.Sprintf("%s %s%s\n(\n%s\n)\nENGINE = Distributed('%s', currentDatabase(), '%s', %s)",
		strings.TrimSpace(ts[:ni].String()), name, tokens(r.onCluster()).String(), strings.Join(cols, ",\n"), r.cluster, name+localSuffix, key)
	return []string{local.String(), dist}, nil
}

// createView renders CREATE [MATERIALIZED] VIEW ON CLUSTER, on the local
// tables when it is a materialized view.
func (r *clusterRenderer) createView(ts tokens) ([]string, error) {
	i, materialized := ts.match(0, "CREATE", "MATERIALIZED", "VIEW")
	if !materialized {
		i, _ = ts.match(0, "CREATE", "VIEW")
	}
	ni, name, ok := ts.tableName(i)
	if !ok {
		return nil, fmt.Errorf("CREATE VIEW: no view name in %q", ts.head(6))
	}
	var out tokens
	out = append(out, ts[:ni+1]...)
	out = append(out, r.onCluster()...)
	if !materialized {
		return []string{append(out, ts[ni+1:]...).String()}, nil
	}
	ti := ts.next(ni + 1)
	if ti < 0 || !strings.EqualFold(ts[ti].text, "TO") {
		return nil, fmt.Errorf("materialized view %s: want TO a table (an inner table has no cluster form here)", name)
	}
	rest := ts[ni+1:]
	for j := 0; j < len(rest); j++ {
		t := rest[j]
		if t.kind != tokWord || !r.tables[t.unquoted()] {
			out = append(out, t)
			continue
		}
		p := rest.prev(j - 1)
		if p < 0 {
			out = append(out, t)
			continue
		}
		switch strings.ToUpper(rest[p].text) {
		case "TO":
			out = append(out, token{kind: tokWord, text: t.unquoted() + localSuffix})
		case "FROM", "JOIN":
			out = append(out, token{kind: tokWord, text: t.unquoted() + localSuffix})
			if !rest.aliased(j + 1) {
				// The alias keeps columns qualified by the table's name valid.
				out = append(out, token{kind: tokSpace, text: " "}, token{kind: tokWord, text: "AS"}, token{kind: tokSpace, text: " "}, token{kind: tokWord, text: t.unquoted()})
			}
		default:
			out = append(out, t)
		}
	}
	return []string{out.String()}, nil
}

// columnCommands are the ALTER commands that change a table's columns,
// which its Distributed table must follow.
var columnCommands = []string{"ADD COLUMN", "DROP COLUMN", "MODIFY COLUMN", "RENAME COLUMN", "COMMENT COLUMN"}

// alterTable renders ALTER TABLE on the local table ON CLUSTER, and on the
// Distributed table too when it changes columns.
func (r *clusterRenderer) alterTable(ts tokens) ([]string, error) {
	i, _ := ts.match(0, "ALTER", "TABLE")
	ni, name, ok := ts.tableName(i)
	if !ok {
		return nil, fmt.Errorf("ALTER TABLE: no table name in %q", ts.head(6))
	}
	rename := func(n string, cmds tokens) string {
		var out tokens
		out = append(out, ts[:ni]...)
		out = append(out, token{kind: tokWord, text: n})
		out = append(out, r.onCluster()...)
		return append(out, cmds...).String()
	}
	if !r.tables[name] {
		return []string{rename(name, ts[ni+1:])}, nil
	}
	cmds := ts[ni+1:].splitTop(",")
	columns := 0
	for _, c := range cmds {
		head := c.head(2)
		for _, cc := range columnCommands {
			if strings.EqualFold(head, cc) {
				columns++
				break
			}
		}
	}
	switch columns {
	case 0:
		return []string{rename(name+localSuffix, ts[ni+1:])}, nil
	case len(cmds):
		return []string{rename(name+localSuffix, ts[ni+1:]), rename(name, ts[ni+1:].withoutCall("CODEC"))}, nil
	}
	return nil, fmt.Errorf("ALTER TABLE %s: cluster mode wants column changes and other changes in separate statements", name)
}

// drop renders DROP TABLE (the Distributed table, then its local table) and
// DROP VIEW ON CLUSTER; tables are dropped SYNC.
func (r *clusterRenderer) drop(ts tokens) ([]string, error) {
	i, _ := ts.match(0, "DROP", "TABLE")
	if i < 0 {
		i, _ = ts.match(0, "DROP", "VIEW")
	}
	ni, name, ok := ts.tableName(i)
	if !ok {
		return nil, fmt.Errorf("DROP: no name in %q", ts.head(6))
	}
	isTable := ts.has(0, "DROP", "TABLE")
	one := func(n string) string {
		var out tokens
		out = append(out, ts[:ni]...)
		out = append(out, token{kind: tokWord, text: n})
		out = append(out, r.onCluster()...)
		out = append(out, ts[ni+1:]...)
		// A replicated table's Keeper path is freed at once, so that the
		// table can be created again; a view has none.
		if isTable && !strings.EqualFold(ts.last(), "SYNC") {
			out = append(out, token{kind: tokSpace, text: " "}, token{kind: tokWord, text: "SYNC"})
		}
		return out.String()
	}
	if isTable && r.tables[name] {
		return []string{one(name), one(name + localSuffix)}, nil
	}
	return []string{one(name)}, nil
}

// SchemaDDL returns the statements that build syncwatch's schema, every
// up migration in order, each preceded by a comment naming it: for a
// single node when cluster is empty, else for cluster. It is what
// `syncwatch migrate --print-ddl` prints for an operator who creates the
// schema by hand. The retention (90 days in the migrations) is applied by
// `syncwatch migrate up`, not here; the migrations table is the operator's
// to create when they want golang-migrate to take over later.
func SchemaDDL(cluster string) (string, error) {
	return renderDDL(migrationFiles, cluster)
}

func renderDDL(files fs.FS, cluster string) (string, error) {
	sub, err := fs.Sub(files, "migrations")
	if err != nil {
		return "", err
	}
	names, err := fs.Glob(sub, "*.up.sql")
	if err != nil {
		return "", fmt.Errorf("list migrations: %w", err)
	}
	sort.Strings(names)
	var r *clusterRenderer
	if cluster != "" {
		if r, err = newClusterRenderer(cluster, sub); err != nil {
			return "", err
		}
	}
	var b strings.Builder
	for _, name := range names {
		body, err := fs.ReadFile(sub, name)
		if err != nil {
			return "", fmt.Errorf("read migration %s: %w", name, err)
		}
		stmts := splitStatements(string(body))
		if r != nil {
			if stmts, err = r.renderStatements(string(body)); err != nil {
				return "", fmt.Errorf("migration %s: %w", name, err)
			}
		}
		fmt.Fprintf(&b, "-- %s\n", name)
		for _, s := range stmts {
			b.WriteString(dropBlankLines(s))
			b.WriteString(";\n\n")
		}
	}
	return b.String(), nil
}

// dropBlankLines removes the lines of s that hold only spaces, which the
// comments splitStatements removes leave behind.
func dropBlankLines(s string) string {
	lines := strings.Split(s, "\n")
	out := lines[:0]
	for _, l := range lines {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// tokens of SQL text, enough to find and rename what renderCluster needs:
// words, quoted names and strings, spaces, and single punctuation marks.
type tokens []token

type tokenKind int

const (
	tokSpace tokenKind = iota
	tokWord
	tokString
	tokPunct
)

type token struct {
	kind tokenKind
	text string
}

// unquoted is the token's name: a word, or a name in backquotes or double
// quotes without them.
func (t token) unquoted() string {
	if len(t.text) >= 2 && (t.text[0] == '`' || t.text[0] == '"') {
		return t.text[1 : len(t.text)-1]
	}
	return t.text
}

func tokenize(s string) tokens {
	var ts tokens
	for i := 0; i < len(s); {
		c := s[i]
		j := i + 1
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			for j < len(s) && strings.IndexByte(" \t\n\r", s[j]) >= 0 {
				j++
			}
			ts = append(ts, token{kind: tokSpace, text: s[i:j]})
		case c == '\'' || c == '"' || c == '`':
			for j < len(s) && s[j] != c {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			j = min(j+1, len(s))
			kind := tokString
			if c != '\'' {
				kind = tokWord
			}
			ts = append(ts, token{kind: kind, text: s[i:j]})
		case isWordByte(c):
			for j < len(s) && isWordByte(s[j]) {
				j++
			}
			ts = append(ts, token{kind: tokWord, text: s[i:j]})
		default:
			ts = append(ts, token{kind: tokPunct, text: s[i:j]})
		}
		i = j
	}
	return ts
}

func isWordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func (ts tokens) String() string {
	var b strings.Builder
	for _, t := range ts {
		b.WriteString(t.text)
	}
	return b.String()
}

// next returns the index of the first token from i on that is not space,
// or -1.
func (ts tokens) next(i int) int {
	for ; i >= 0 && i < len(ts); i++ {
		if ts[i].kind != tokSpace {
			return i
		}
	}
	return -1
}

// prev returns the index of the last token up to i that is not space, or
// -1.
func (ts tokens) prev(i int) int {
	for ; i >= 0 && i < len(ts); i-- {
		if ts[i].kind != tokSpace {
			return i
		}
	}
	return -1
}

// match reports whether the words from i on are words (case-insensitive)
// and returns the index after the last one.
func (ts tokens) match(i int, words ...string) (int, bool) {
	for _, w := range words {
		j := ts.next(i)
		if j < 0 || ts[j].kind != tokWord || !strings.EqualFold(ts[j].text, w) {
			return -1, false
		}
		i = j + 1
	}
	return i, true
}

func (ts tokens) has(i int, words ...string) bool {
	_, ok := ts.match(i, words...)
	return ok
}

// tableName reads [IF [NOT] EXISTS] name from i on and returns the name's
// index and the name. A database-qualified name is refused: the schema
// lives in the connection's database.
func (ts tokens) tableName(i int) (int, string, bool) {
	if j, ok := ts.match(i, "IF", "NOT", "EXISTS"); ok {
		i = j
	} else if j, ok := ts.match(i, "IF", "EXISTS"); ok {
		i = j
	}
	j := ts.next(i)
	if j < 0 || ts[j].kind != tokWord {
		return -1, "", false
	}
	if k := ts.next(j + 1); k >= 0 && ts[k].text == "." {
		return -1, "", false
	}
	return j, ts[j].unquoted(), true
}

// closing returns the index of the parenthesis that closes the one at
// open, or -1.
func (ts tokens) closing(open int) int {
	depth := 0
	for i := open; i < len(ts); i++ {
		switch ts[i].text {
		case "(":
			depth++
		case ")":
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// findWord returns the index of the first word w outside parentheses from
// i on, or -1.
func (ts tokens) findWord(i int, w string) int {
	depth := 0
	for ; i < len(ts); i++ {
		switch {
		case ts[i].text == "(":
			depth++
		case ts[i].text == ")":
			depth--
		case depth == 0 && ts[i].kind == tokWord && strings.EqualFold(ts[i].text, w):
			return i
		}
	}
	return -1
}

// splitTop splits ts at sep outside parentheses.
func (ts tokens) splitTop(sep string) []tokens {
	var out []tokens
	depth, start := 0, 0
	for i, t := range ts {
		switch {
		case t.text == "(":
			depth++
		case t.text == ")":
			depth--
		case depth == 0 && t.text == sep:
			out = append(out, ts[start:i])
			start = i + 1
		}
	}
	return append(out, ts[start:])
}

// withoutCall returns ts without the calls of fn (e.g. CODEC(…)) outside
// parentheses, and the space before each.
func (ts tokens) withoutCall(fn string) tokens {
	var out tokens
	for i := 0; i < len(ts); i++ {
		if ts[i].kind == tokWord && strings.EqualFold(ts[i].text, fn) {
			if o := ts.next(i + 1); o >= 0 && ts[o].text == "(" {
				if c := ts.closing(o); c >= 0 {
					for len(out) > 0 && out[len(out)-1].kind == tokSpace {
						out = out[:len(out)-1]
					}
					i = c
					continue
				}
			}
		}
		out = append(out, ts[i])
	}
	return out
}

// aliased reports whether the table name before i is followed by an alias.
func (ts tokens) aliased(i int) bool {
	j := ts.next(i)
	if j < 0 || ts[j].kind != tokWord {
		return false
	}
	switch strings.ToUpper(ts[j].text) {
	case "AS":
		return true
	case "WHERE", "PREWHERE", "GROUP", "ORDER", "LIMIT", "FINAL", "SETTINGS", "UNION", "ARRAY",
		"LEFT", "RIGHT", "INNER", "FULL", "CROSS", "JOIN", "ANY", "ALL", "GLOBAL", "ASOF", "SEMI", "ANTI",
		"ON", "USING", "HAVING", "SAMPLE", "WINDOW", "QUALIFY", "FORMAT", "INTO", "WITH", "EXCEPT", "INTERSECT":
		return false
	}
	return true
}

// head returns the first n words of ts, for messages.
func (ts tokens) head(n int) string {
	var words []string
	for _, t := range ts {
		if t.kind == tokSpace {
			continue
		}
		if len(words) == n {
			break
		}
		words = append(words, t.text)
	}
	return strings.Join(words, " ")
}

// last returns the text of the last token that is not space.
func (ts tokens) last() string {
	if i := ts.prev(len(ts) - 1); i >= 0 {
		return ts[i].text
	}
	return ""
}
