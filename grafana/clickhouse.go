package grafana

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
)

// ClickHousePluginID is the plugin id, and so the datasource type, of
// Grafana's ClickHouse data source.
const ClickHousePluginID = "grafana-clickhouse-datasource"

// ClickHouseFormat says how the plugin's backend shapes a query's rows
// into data frames. The values are those of the plugin's query model
// (sqlutil.FormatQueryOption of grafana-plugin-sdk-go, which the plugin
// reads from the query's "format" field).
type ClickHouseFormat int

// The result formats of the ClickHouse data source.
const (
	// ClickHouseFormatTimeSeries turns rows of a time column, optional
	// string columns and numeric columns into one series per distinct
	// combination of the string columns (long to wide).
	ClickHouseFormatTimeSeries ClickHouseFormat = 0
	// ClickHouseFormatTable keeps the rows as they are.
	ClickHouseFormatTable ClickHouseFormat = 1
	// ClickHouseFormatLogs and ClickHouseFormatTraces prefer the logs and
	// traces visualisations.
	ClickHouseFormatLogs   ClickHouseFormat = 2
	ClickHouseFormatTraces ClickHouseFormat = 3
)

// ClickHouseEditorSQL is the editor type of a query written as SQL (the
// other, "builder", is the visual query builder).
const ClickHouseEditorSQL = "sql"

// ClickHouseQuery is a query of the ClickHouse data source written in SQL,
// in the shape the plugin (4.x) saves in a dashboard's targets. RawSql may
// use the plugin's macros ($__timeFilter(col), $__timeInterval(col),
// $__fromTime, $__toTime, $__interval_s, …) and template variables
// (${sync_type:singlequote}), which Grafana and the plugin expand before
// the SQL reaches ClickHouse.
type ClickHouseQuery struct {
	// RefId names the query within its panel.
	RefId *string `json:"refId,omitempty"`
	// Hide excludes the query from the panel.
	Hide *bool `json:"hide,omitempty"`
	// Datasource is the ClickHouse data source the query runs on.
	Datasource *common.DataSourceRef `json:"datasource,omitempty"`
	// EditorType is ClickHouseEditorSQL.
	EditorType string `json:"editorType"`
	// QueryType is the editor's query type ("table", "logs", …). The
	// backend ignores it and shapes the rows by Format; the plugin's own
	// dashboards leave it out of SQL queries, and so does syncwatch.
	QueryType *string `json:"queryType,omitempty"`
	// Format is the shape of the result.
	Format ClickHouseFormat `json:"format"`
	// RawSql is the SQL text.
	RawSql string `json:"rawSql"`
}

// ImplementsDataqueryVariant marks ClickHouseQuery as a data query of the
// SDK.
func (q ClickHouseQuery) ImplementsDataqueryVariant() {}

// DataqueryType returns the plugin id of the data source.
func (q ClickHouseQuery) DataqueryType() string { return ClickHousePluginID }

// Equals reports whether other is the same query.
func (q ClickHouseQuery) Equals(other variants.Dataquery) bool {
	var o ClickHouseQuery
	switch x := other.(type) {
	case ClickHouseQuery:
		o = x
	case *ClickHouseQuery:
		if x == nil {
			return false
		}
		o = *x
	default:
		return false
	}
	a, errA := json.Marshal(q)
	b, errB := json.Marshal(o)
	return errA == nil && errB == nil && bytes.Equal(a, b)
}

// Validate checks that the query is complete: SQL editor, SQL text and a
// known format.
func (q ClickHouseQuery) Validate() error {
	var errs []error
	if q.EditorType != ClickHouseEditorSQL {
		errs = append(errs, fmt.Errorf("editorType %q: want %q", q.EditorType, ClickHouseEditorSQL))
	}
	if q.RawSql == "" {
		errs = append(errs, errors.New("rawSql is empty"))
	}
	if q.Format < ClickHouseFormatTimeSeries || q.Format > ClickHouseFormatTraces {
		errs = append(errs, fmt.Errorf("format %d: want 0 (time series), 1 (table), 2 (logs) or 3 (traces)", q.Format))
	}
	if q.Datasource != nil && q.Datasource.Type != nil && *q.Datasource.Type != ClickHousePluginID {
		errs = append(errs, fmt.Errorf("datasource type %q: want %q", *q.Datasource.Type, ClickHousePluginID))
	}
	return errors.Join(errs...)
}

// ClickHouseVariantConfig tells the SDK how to decode ClickHouse queries
// when it reads a dashboard; the strict decoder refuses unknown fields and
// invalid queries.
func ClickHouseVariantConfig() variants.DataqueryConfig {
	return variants.DataqueryConfig{
		Identifier: ClickHousePluginID,
		DataqueryUnmarshaler: func(raw []byte) (variants.Dataquery, error) {
			q := &ClickHouseQuery{}
			if err := json.Unmarshal(raw, q); err != nil {
				return nil, err
			}
			return q, nil
		},
		StrictDataqueryUnmarshaler: func(raw []byte) (variants.Dataquery, error) {
			// encoding/json matches field names case-insensitively: check
			// the exact names first.
			var fields map[string]json.RawMessage
			if err := json.Unmarshal(raw, &fields); err != nil {
				return nil, fmt.Errorf("clickhouse query: %w", err)
			}
			for name := range fields {
				if !clickHouseQueryFields[name] {
					return nil, fmt.Errorf("clickhouse query: unknown field %q", name)
				}
			}
			for _, required := range []string{"editorType", "format", "rawSql"} {
				if _, ok := fields[required]; !ok {
					return nil, fmt.Errorf("clickhouse query: %s is missing", required)
				}
			}
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			q := &ClickHouseQuery{}
			if err := dec.Decode(q); err != nil {
				return nil, fmt.Errorf("clickhouse query: %w", err)
			}
			if err := q.Validate(); err != nil {
				return nil, fmt.Errorf("clickhouse query: %w", err)
			}
			return q, nil
		},
	}
}

// clickHouseQueryFields are the JSON names of ClickHouseQuery's fields.
var clickHouseQueryFields = map[string]bool{
	"refId": true, "hide": true, "datasource": true, "editorType": true, "queryType": true, "format": true, "rawSql": true,
}

var registerOnce sync.Once

// RegisterPlugins registers the SDK's panels and data queries and the
// ClickHouse query with the SDK's runtime, so that dashboards decode into
// typed panels and queries. It is safe to call more than once.
func RegisterPlugins() {
	registerOnce.Do(func() {
		plugins.RegisterDefaultPlugins()
		cog.NewRuntime().RegisterDataqueryVariant(ClickHouseVariantConfig())
	})
}

var _ cog.Builder[variants.Dataquery] = (*ClickHouseQueryBuilder)(nil)

// ClickHouseQueryBuilder builds a ClickHouseQuery.
type ClickHouseQueryBuilder struct {
	internal *ClickHouseQuery
}

// NewClickHouseQueryBuilder starts an SQL query of the provisioned
// ClickHouse data source (uid ClickHouseUID) in the table format.
func NewClickHouseQueryBuilder(sql string) *ClickHouseQueryBuilder {
	return &ClickHouseQueryBuilder{internal: &ClickHouseQuery{
		Datasource: ClickHouseDatasource(),
		EditorType: ClickHouseEditorSQL,
		Format:     ClickHouseFormatTable,
		RawSql:     sql,
	}}
}

// Build returns the query, or an error when it is incomplete.
func (b *ClickHouseQueryBuilder) Build() (variants.Dataquery, error) {
	if err := b.internal.Validate(); err != nil {
		return nil, err
	}
	return *b.internal, nil
}

// RefId names the query within its panel.
func (b *ClickHouseQueryBuilder) RefId(refID string) *ClickHouseQueryBuilder {
	b.internal.RefId = &refID
	return b
}

// Hide excludes the query from the panel.
func (b *ClickHouseQueryBuilder) Hide(hide bool) *ClickHouseQueryBuilder {
	b.internal.Hide = &hide
	return b
}

// Datasource sets the data source the query runs on.
func (b *ClickHouseQueryBuilder) Datasource(ref common.DataSourceRef) *ClickHouseQueryBuilder {
	b.internal.Datasource = &ref
	return b
}

// Format sets the shape of the result.
func (b *ClickHouseQueryBuilder) Format(f ClickHouseFormat) *ClickHouseQueryBuilder {
	b.internal.Format = f
	return b
}

// TimeSeries is Format(ClickHouseFormatTimeSeries).
func (b *ClickHouseQueryBuilder) TimeSeries() *ClickHouseQueryBuilder {
	return b.Format(ClickHouseFormatTimeSeries)
}

// QueryType sets the editor's query type.
func (b *ClickHouseQueryBuilder) QueryType(t string) *ClickHouseQueryBuilder {
	b.internal.QueryType = &t
	return b
}

// RawSql sets the SQL text.
func (b *ClickHouseQueryBuilder) RawSql(sql string) *ClickHouseQueryBuilder {
	b.internal.RawSql = sql
	return b
}
