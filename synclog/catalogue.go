package synclog

import "time"

// SyncTypeEntry describes one sync type of the default catalogue: its
// display names and the defaults the exporter, the alerts and the console
// judge its runs by. Configuration may override the durations per type.
type SyncTypeEntry struct {
	// Name is the sync type as reports name it.
	Name string
	// English and Chinese are its display names.
	English, Chinese string
	// ExpectedInterval is how often it should succeed; 0 means it does
	// not run on a schedule (no silence alert).
	ExpectedInterval time.Duration
	// MaxRuntime is how long one run may take before it counts as hung.
	MaxRuntime time.Duration
}

// catalogue is the one list of the default sync types; everything else
// (the default --sync-types, display names, expected intervals, maximum
// runtimes, the help that lists them) is read from it.
var catalogue = [...]SyncTypeEntry{
	{Name: "products", English: "Product sync", Chinese: "商品同步", ExpectedInterval: 6 * time.Hour, MaxRuntime: 2 * time.Hour},
	{Name: "prices", English: "Price sync", Chinese: "价格同步", ExpectedInterval: time.Hour, MaxRuntime: 30 * time.Minute},
	{Name: "stock", English: "Stock sync", Chinese: "库存同步", ExpectedInterval: 15 * time.Minute, MaxRuntime: 15 * time.Minute},
	{Name: "order", English: "Order push", Chinese: "订单推送", ExpectedInterval: 5 * time.Minute, MaxRuntime: 5 * time.Minute},
	{Name: "logistics", English: "Logistics lookup", Chinese: "物流查询", ExpectedInterval: 30 * time.Minute, MaxRuntime: 15 * time.Minute},
	{Name: "manual", English: "Manual operation", Chinese: "手动操作", ExpectedInterval: 0, MaxRuntime: time.Hour},
}

// Catalogue returns the default sync types in their usual order.
func Catalogue() []SyncTypeEntry { return append([]SyncTypeEntry(nil), catalogue[:]...) }

// DefaultSyncTypeNames returns the names of the default sync types.
func DefaultSyncTypeNames() []string {
	names := make([]string, len(catalogue))
	for i, e := range catalogue {
		names[i] = e.Name
	}
	return names
}

// DefaultExpectedIntervals returns the expected interval of each default
// sync type; 0 means none.
func DefaultExpectedIntervals() map[string]time.Duration {
	out := make(map[string]time.Duration, len(catalogue))
	for _, e := range catalogue {
		out[e.Name] = e.ExpectedInterval
	}
	return out
}

// DefaultMaxRuntimes returns the maximum runtime of each default sync type.
func DefaultMaxRuntimes() map[string]time.Duration {
	out := make(map[string]time.Duration, len(catalogue))
	for _, e := range catalogue {
		out[e.Name] = e.MaxRuntime
	}
	return out
}
