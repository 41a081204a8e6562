package demo

import (
	"testing"

	"github.com/syncwatch/syncwatch/synclog"
)

// TestJobsFollowTheCatalogue checks every simulated job against synclog's
// catalogue: its sync type is a default one, and a scheduled job starts
// often enough, and finishes soon enough, that only the jobs meant to go
// silent or slow down trip the alerts built on the catalogue's defaults.
func TestJobsFollowTheCatalogue(t *testing.T) {
	entries := map[string]synclog.SyncTypeEntry{}
	for _, e := range synclog.Catalogue() {
		entries[e.Name] = e
	}
	for _, j := range Jobs {
		t.Run(j.Source+"/"+j.SyncType, func(t *testing.T) {
			e, ok := entries[j.SyncType]
			if !ok {
				t.Fatalf("sync type %q is not in the catalogue", j.SyncType)
			}
			if e.ExpectedInterval > 0 && j.Every+j.Duration > e.ExpectedInterval {
				t.Errorf("runs every %v for %v, but the catalogue expects a success every %v", j.Every, j.Duration, e.ExpectedInterval)
			}
			if j.Duration > e.MaxRuntime {
				t.Errorf("runs %v, longer than the catalogue's maximum runtime %v", j.Duration, e.MaxRuntime)
			}
		})
	}
}
