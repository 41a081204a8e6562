package synclog

import (
	"slices"
	"strings"
	"testing"
)

func TestParseStatus(t *testing.T) {
	tests := []struct {
		in      string
		want    Status
		wantErr string
	}{
		{"pending", StatusPending, ""},
		{"processing", StatusProcessing, ""},
		{"success", StatusSuccess, ""},
		{" FAILED\n", StatusFailed, ""},
		{"Partial", StatusPartial, ""},
		{"", "", `unknown status "": allowed are pending, processing, success, failed, partial`},
		{"done", "", `unknown status "done": allowed are pending, processing, success, failed, partial`},
		{"succeeded", "", `unknown status "succeeded": allowed are pending, processing, success, failed, partial`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseStatus(tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("ParseStatus(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseStatus(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestStatusProperties(t *testing.T) {
	tests := []struct {
		status   Status
		terminal bool
		valid    bool
		rank     uint8
		en, zh   string
	}{
		{StatusPending, false, true, 1, "Pending", "待处理"},
		{StatusProcessing, false, true, 2, "Processing", "处理中"},
		{StatusSuccess, true, true, 3, "Success", "成功"},
		{StatusFailed, true, true, 3, "Failed", "失败"},
		{StatusPartial, true, true, 3, "Partial success", "部分成功"},
		{"", false, false, 0, "", ""},
		{"done", false, false, 0, "done", "done"},
	}
	for _, tt := range tests {
		t.Run(string(tt.status), func(t *testing.T) {
			if got := tt.status.Terminal(); got != tt.terminal {
				t.Errorf("Terminal() = %v, want %v", got, tt.terminal)
			}
			if got := tt.status.Valid(); got != tt.valid {
				t.Errorf("Valid() = %v, want %v", got, tt.valid)
			}
			if got := tt.status.Rank(); got != tt.rank {
				t.Errorf("Rank() = %d, want %d", got, tt.rank)
			}
			if got := tt.status.DisplayName(English); got != tt.en {
				t.Errorf("DisplayName(English) = %q, want %q", got, tt.en)
			}
			if got := tt.status.DisplayName(Chinese); got != tt.zh {
				t.Errorf("DisplayName(Chinese) = %q, want %q", got, tt.zh)
			}
		})
	}
	if len(Statuses) != 5 {
		t.Errorf("Statuses has %d entries, want 5", len(Statuses))
	}
}

func TestSyncTypeDisplayName(t *testing.T) {
	tests := []struct {
		syncType string
		en, zh   string
	}{
		{"products", "Product sync", "商品同步"},
		{"prices", "Price sync", "价格同步"},
		{"stock", "Stock sync", "库存同步"},
		{"order", "Order push", "订单推送"},
		{"logistics", "Logistics lookup", "物流查询"},
		{"manual", "Manual operation", "手动操作"},
		{"invoices", "invoices", "invoices"},
	}
	for _, tt := range tests {
		t.Run(tt.syncType, func(t *testing.T) {
			if got := SyncTypeDisplayName(tt.syncType, English); got != tt.en {
				t.Errorf("SyncTypeDisplayName(%q, English) = %q, want %q", tt.syncType, got, tt.en)
			}
			if got := SyncTypeDisplayName(tt.syncType, Chinese); got != tt.zh {
				t.Errorf("SyncTypeDisplayName(%q, Chinese) = %q, want %q", tt.syncType, got, tt.zh)
			}
			if got := SyncTypeDisplayName(tt.syncType, "fr"); got != tt.en {
				t.Errorf("SyncTypeDisplayName(%q, fr) = %q, want the English %q", tt.syncType, got, tt.en)
			}
		})
	}
}

func TestNewSyncTypes(t *testing.T) {
	const rule = "must be 1-64 characters of a-z, 0-9, '_', '-' or '.', starting with a letter or digit"
	long := strings.Repeat("a", 65)
	tests := []struct {
		name    string
		in      []string
		want    []string
		wantErr string
	}{
		{"defaults", DefaultSyncTypes, DefaultSyncTypes, ""},
		{"trimmed", []string{" stock ", "prices"}, []string{"stock", "prices"}, ""},
		{"identifier characters", []string{"b2b.orders-v2_x", "9lives"}, []string{"b2b.orders-v2_x", "9lives"}, ""},
		{"at the limit", []string{long[:64]}, []string{long[:64]}, ""},
		{"nil", nil, nil, "sync types: at least one is required"},
		{"empty", []string{}, nil, "sync types: at least one is required"},
		{"blank name", []string{"stock", " "}, nil, `sync type "": ` + rule},
		{"uppercase", []string{"Products"}, nil, `sync type "Products": ` + rule},
		{"leading dash", []string{"-stock"}, nil, `sync type "-stock": ` + rule},
		{"space inside", []string{"price sync"}, nil, `sync type "price sync": ` + rule},
		{"too long", []string{long}, nil, `sync type "` + long + `": ` + rule},
		{"duplicate", []string{"stock", "prices", " stock"}, nil, `sync type "stock": listed twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NewSyncTypes(tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("NewSyncTypes(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewSyncTypes(%q) error = %v", tt.in, err)
			}
			if !slices.Equal(got.Names(), tt.want) {
				t.Errorf("Names() = %q, want %q", got.Names(), tt.want)
			}
			if s := got.String(); s != strings.Join(tt.want, ", ") {
				t.Errorf("String() = %q", s)
			}
			for _, n := range tt.want {
				if !got.Contains(n) {
					t.Errorf("Contains(%q) = false", n)
				}
			}
		})
	}
}

func TestSyncTypes(t *testing.T) {
	st := MustSyncTypes([]string{"products", "stock"})
	if st.Contains("prices") || st.Contains("") || st.Contains("Products") {
		t.Errorf("Contains reports a type that is not configured")
	}
	names := st.Names()
	names[0] = "changed"
	if st.Names()[0] != "products" {
		t.Errorf("Names() shares its slice with the set")
	}
	var zero SyncTypes
	if zero.Contains("products") || zero.String() != "" {
		t.Errorf("zero SyncTypes is not empty")
	}
}

func TestMustSyncTypesPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatalf("MustSyncTypes(nil) did not panic")
		}
	}()
	MustSyncTypes(nil)
}
