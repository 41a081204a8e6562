package collector

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/syncwatch/syncwatch/synclog"
)

// quarantineFile is the quarantine's file in its directory.
const quarantineFile = "quarantine.ndjson"

// maxQuarantineLine bounds one line of the quarantine file: a report with
// its largest message and attributes, escaped, and the error.
const maxQuarantineLine = 4 << 20

// Quarantine keeps the reports ClickHouse refused for what they are (an
// error that repeating the insert cannot mend), so that one bad report
// never holds up the spool: the batcher moves it here and goes on. It is an
// append-only file of JSON lines, fsync'd before the spool forgets the
// report, so a quarantined report is never lost; an operator lists it and
// replays it into the spool once the cause is mended.
type Quarantine struct {
	path string

	mu     sync.Mutex
	count  int
	lastAt time.Time
	last   string
}

// QuarantinedReport is one report the batcher set aside.
type QuarantinedReport struct {
	// At is when the report was set aside.
	At time.Time `json:"quarantined_at"`
	// Error is what ClickHouse answered.
	Error  string         `json:"error"`
	Report synclog.Report `json:"report"`
}

// QuarantineStatus describes the quarantine for metrics and health reports.
type QuarantineStatus struct {
	Reports   int
	LastAt    time.Time
	LastError string
}

// OpenQuarantine opens (creating it when missing) the quarantine in dir.
func OpenQuarantine(dir string) (*Quarantine, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create quarantine directory: %w", err)
	}
	q := &Quarantine{path: filepath.Join(dir, quarantineFile)}
	entries, err := q.read()
	if err != nil {
		return nil, err
	}
	q.count = len(entries)
	if n := len(entries); n > 0 {
		q.lastAt, q.last = entries[n-1].At, entries[n-1].Error
	}
	return q, nil
}

// Add sets reports aside with the error that refused them. It returns once
// they are on disk.
func (q *Quarantine) Add(reports []synclog.Report, cause error) error {
	now := time.Now().UTC()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, r := range reports {
		if err := enc.Encode(QuarantinedReport{At: now, Error: cause.Error(), Report: r}); err != nil {
			return fmt.Errorf("encode quarantined report %s: %w", r.EventID, err)
		}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := appendSync(q.path, buf.Bytes()); err != nil {
		return fmt.Errorf("write quarantine: %w", err)
	}
	q.count += len(reports)
	q.lastAt, q.last = now, cause.Error()
	return nil
}

// appendSync appends data to the file at path and fsyncs it.
func appendSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// List returns the quarantined reports, oldest first.
func (q *Quarantine) List() ([]QuarantinedReport, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.read()
}

// read decodes the file; the caller holds mu or owns q alone. A torn last
// line (a crash during Add, before its fsync returned) is skipped: Add had
// not returned, so the spool still holds that report.
func (q *Quarantine) read() ([]QuarantinedReport, error) {
	f, err := os.Open(q.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open quarantine: %w", err)
	}
	defer f.Close()
	var out []QuarantinedReport
	r := bufio.NewReaderSize(f, 64<<10)
	for line := 1; ; line++ {
		b, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return out, nil // a torn or empty last line
		}
		if err != nil {
			return nil, fmt.Errorf("read quarantine: %w", err)
		}
		if len(b) > maxQuarantineLine {
			return nil, fmt.Errorf("quarantine line %d: longer than %d bytes", line, maxQuarantineLine)
		}
		var e QuarantinedReport
		if err := json.Unmarshal(b, &e); err != nil {
			return nil, fmt.Errorf("quarantine line %d: %w", line, err)
		}
		out = append(out, e)
	}
}

// Replay hands every quarantined report to requeue (the spool's Append)
// and empties the quarantine once requeue has them. It returns how many
// it handed over. Reports that fail again come back to the quarantine.
func (q *Quarantine) Replay(requeue func([]synclog.Report) error) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	entries, err := q.read()
	if err != nil || len(entries) == 0 {
		return 0, err
	}
	reports := make([]synclog.Report, len(entries))
	for i, e := range entries {
		reports[i] = e.Report
	}
	if err := requeue(reports); err != nil {
		return 0, fmt.Errorf("requeue quarantined reports: %w", err)
	}
	// Requeued and on disk in the spool: a crash before the removal below
	// only means the quarantine shows them once more.
	if err := os.Remove(q.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return len(reports), fmt.Errorf("empty quarantine: %w", err)
	}
	q.count, q.lastAt, q.last = 0, time.Time{}, ""
	return len(reports), nil
}

// Status returns the quarantine's figures.
func (q *Quarantine) Status() QuarantineStatus {
	q.mu.Lock()
	defer q.mu.Unlock()
	return QuarantineStatus{Reports: q.count, LastAt: q.lastAt, LastError: q.last}
}
