package config

import (
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/syncwatch/syncwatch/synclog"
)

// CatalogueDefaults lists one duration of every default sync type the way
// help text shows it, "products=6h, prices=1h, …, manual=0", from synclog's
// catalogue; of picks the duration.
func CatalogueDefaults(of func(synclog.SyncTypeEntry) time.Duration) string {
	var b strings.Builder
	for i, e := range synclog.Catalogue() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(e.Name)
		b.WriteByte('=')
		if d := of(e); d == 0 {
			b.WriteByte('0')
		} else {
			b.WriteString(model.Duration(d).String())
		}
	}
	return b.String()
}

// ExpectedInterval picks the expected interval of a catalogue entry.
func ExpectedInterval(e synclog.SyncTypeEntry) time.Duration { return e.ExpectedInterval }

// MaxRuntime picks the maximum runtime of a catalogue entry.
func MaxRuntime(e synclog.SyncTypeEntry) time.Duration { return e.MaxRuntime }
