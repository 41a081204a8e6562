// Package synclog defines the run report that sync jobs send to syncwatch:
// its fields, the sync type and status enumerations, validation,
// normalisation, redaction of secrets and message fingerprints.
//
// It is the leaf of the project and imports nothing else from it.
package synclog

import (
	"fmt"
	"slices"
	"strings"
)

// Status is the lifecycle state a report gives for its run.
type Status string

// The statuses of a run, in the order of its lifecycle.
const (
	StatusPending    Status = "pending"
	StatusProcessing Status = "processing"
	StatusSuccess    Status = "success"
	StatusFailed     Status = "failed"
	StatusPartial    Status = "partial"
)

// Statuses lists every status in lifecycle order.
var Statuses = []Status{StatusPending, StatusProcessing, StatusSuccess, StatusFailed, StatusPartial}

// Terminal reports whether s ends a run: success, failed and partial do.
func (s Status) Terminal() bool {
	return s == StatusSuccess || s == StatusFailed || s == StatusPartial
}

// Valid reports whether s is one of the five statuses.
func (s Status) Valid() bool { return slices.Contains(Statuses, s) }

// Rank orders statuses so that the latest state of a run can be chosen when
// two reports carry the same time: a terminal status outranks an
// in-progress one.
func (s Status) Rank() uint8 {
	switch s {
	case StatusPending:
		return 1
	case StatusProcessing:
		return 2
	case StatusSuccess, StatusFailed, StatusPartial:
		return 3
	}
	return 0
}

// ParseStatus returns the status named by s (case-insensitive, trimmed) or an
// error listing the allowed values.
func ParseStatus(s string) (Status, error) {
	st := Status(strings.ToLower(strings.TrimSpace(s)))
	if !st.Valid() {
		return "", fmt.Errorf("unknown status %q: allowed are %s", s, joinStatuses())
	}
	return st, nil
}

func joinStatuses() string {
	names := make([]string, len(Statuses))
	for i, s := range Statuses {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

// DefaultSyncTypes are the six sync types of a supplier integration, the
// set used when configuration names no other: the names of Catalogue.
// Prefer DefaultSyncTypeNames, which returns a copy.
var DefaultSyncTypes = DefaultSyncTypeNames()

// Language selects the language of display names.
type Language string

// The languages display names exist in.
const (
	English Language = "en"
	Chinese Language = "zh"
)

var statusNames = map[Status][2]string{
	StatusPending:    {"Pending", "待处理"},
	StatusProcessing: {"Processing", "处理中"},
	StatusSuccess:    {"Success", "成功"},
	StatusFailed:     {"Failed", "失败"},
	StatusPartial:    {"Partial success", "部分成功"},
}

func pick(names [2]string, lang Language) string {
	if lang == Chinese {
		return names[1]
	}
	return names[0]
}

// SyncTypeDisplayName returns the display name of a sync type in lang; a
// configured type without a known name is shown as it is.
func SyncTypeDisplayName(syncType string, lang Language) string {
	for _, e := range catalogue {
		if e.Name == syncType {
			return pick([2]string{e.English, e.Chinese}, lang)
		}
	}
	return syncType
}

// DisplayName returns the display name of s in lang.
func (s Status) DisplayName(lang Language) string {
	if n, ok := statusNames[s]; ok {
		return pick(n, lang)
	}
	return string(s)
}

// SyncTypes is the configured set of sync types a report may name.
type SyncTypes struct {
	names []string
}

// NewSyncTypes builds the set from names, which must be non-empty, unique,
// lowercase identifiers of at most 64 characters.
func NewSyncTypes(names []string) (SyncTypes, error) {
	if len(names) == 0 {
		return SyncTypes{}, fmt.Errorf("sync types: at least one is required")
	}
	seen := make(map[string]bool, len(names))
	out := make([]string, 0, len(names))
	for _, n := range names {
		n = strings.TrimSpace(n)
		if !identifier(n, 64) {
			return SyncTypes{}, fmt.Errorf("sync type %q: must be 1-64 characters of a-z, 0-9, '_', '-' or '.', starting with a letter or digit", n)
		}
		if seen[n] {
			return SyncTypes{}, fmt.Errorf("sync type %q: listed twice", n)
		}
		seen[n] = true
		out = append(out, n)
	}
	return SyncTypes{names: out}, nil
}

// MustSyncTypes is NewSyncTypes for names known to be valid; it panics otherwise.
func MustSyncTypes(names []string) SyncTypes {
	st, err := NewSyncTypes(names)
	if err != nil {
		panic(err)
	}
	return st
}

// Names returns the sync types in configured order.
func (t SyncTypes) Names() []string { return slices.Clone(t.names) }

// Contains reports whether name is a configured sync type.
func (t SyncTypes) Contains(name string) bool { return slices.Contains(t.names, name) }

// String lists the sync types separated by commas.
func (t SyncTypes) String() string { return strings.Join(t.names, ", ") }

// identifier reports whether s is 1..max characters of [a-z0-9_.-] starting
// with a letter or digit.
func identifier(s string, max int) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '_' || c == '-' || c == '.') && i > 0:
		default:
			return false
		}
	}
	return true
}
