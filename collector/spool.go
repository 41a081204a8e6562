package collector

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/tidwall/wal"

	"github.com/syncwatch/syncwatch/synclog"
)

// ErrSpoolFull is returned by Append when the spool is at its byte limit.
var ErrSpoolFull = errors.New("spool is full")

// ErrEntryTooLarge is returned by Append for reports that would not fit
// in the spool even when it is empty: waiting cannot help.
var ErrEntryTooLarge = errors.New("reports larger than the spool")

// ErrSpoolClosed is returned by Append after Close.
var ErrSpoolClosed = errors.New("spool is closed")

// spoolCacheBytes bounds the entries the spool keeps in memory as well as
// on disk (counted by their size on disk), so that the batcher takes them
// as they were appended, without going to the log or decoding them. A log
// read takes the log's lock, which every group commit holds through its
// fsync: read entry by entry, a batch of single-report entries waited for
// thousands of fsyncs and the batcher fell behind the ingest API; and
// decoding what was just encoded cost the batcher a sixth of its CPU.
const spoolCacheBytes = 64 << 20

// Spool is the durable queue between the ingest API and ClickHouse: a
// write-ahead log (github.com/tidwall/wal) on local disk. Append returns
// once its entry is fsync'd; concurrent appends share one fsync (group
// commit). Entries leave the spool only when Commit says ClickHouse has them.
type Spool struct {
	log      *wal.Log
	dir      string
	maxBytes int64
	logger   logrus.FieldLogger

	reqs     chan *appendReq
	done     chan struct{}
	loopDone chan struct{}
	notify   chan struct{}
	// sendMu orders appends before Close: appends hold it shared while
	// they queue, Close takes it exclusively to stop new ones.
	sendMu sync.RWMutex
	closed bool

	mu       sync.Mutex
	entries  []entryInfo // unconsumed entries, oldest first
	bytes    int64       // payload bytes of entries (committed or not)
	reserved int64       // bytes of appends not yet written
	cached   int64       // payload bytes kept in memory (entries' and appends')
	cacheMax int64       // limit of cached; spoolCacheBytes
	reports  int
	lastErr  error
	// replayed describes the reports found at open until Replayed takes
	// them.
	replayed []ReplayedReport
}

// ReplayedReport identifies a report the spool held when it was opened.
type ReplayedReport struct {
	Source       string
	EventID      string
	RunID        string
	RunStartedAt time.Time
}

type entryInfo struct {
	index   uint64
	size    int64
	reports int
	at      time.Time
	// cached holds the entry's reports as appended, kept in memory while
	// the cache has room; nil when they must be read from the log.
	cached []synclog.Report
}

type appendReq struct {
	payload []byte
	reports []synclog.Report
	at      time.Time
	cache   bool // keep reports in memory once written
	err     chan error
}

// spoolEntry is the content of one log entry: the accepted reports of one
// request.
type spoolEntry struct {
	At      time.Time        `json:"at"`
	Reports []synclog.Report `json:"reports"`
}

// SpoolStats describe the spool for health reports and metrics.
type SpoolStats struct {
	Entries  int
	Reports  int
	Bytes    int64
	MaxBytes int64
	// Oldest is when the oldest entry still in the spool was appended.
	Oldest time.Time
	// LastError is the last write error, if any.
	LastError error
}

// OpenSpool opens (creating if needed) the spool in dir, holding at most
// maxBytes of reports. Entries left by an earlier process are kept for
// replay; a torn entry at the tail, left by a crash in the middle of a
// write, is cut off.
func OpenSpool(dir string, maxBytes int64, logger logrus.FieldLogger) (*Spool, error) {
	if maxBytes <= 0 {
		return nil, fmt.Errorf("spool size %d: must be positive", maxBytes)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create spool directory: %w", err)
	}
	opts := *wal.DefaultOptions
	opts.AllowEmpty = true
	opts.LogFormat = wal.Binary
	// tidwall/wal keeps the segment being written and the last ones read
	// in memory: 4 MiB segments bound that to about 12 MiB.
	opts.SegmentSize = 4 << 20
	opts.NoCopy = true
	l, err := wal.Open(dir, &opts)
	if errors.Is(err, wal.ErrCorrupt) {
		logger.WithField("dir", dir).Warn("spool tail is torn; cutting the incomplete entry")
		if rerr := repairTail(dir); rerr != nil {
			return nil, fmt.Errorf("repair spool: %w (after %w)", rerr, err)
		}
		l, err = wal.Open(dir, &opts)
	}
	if err != nil {
		return nil, fmt.Errorf("open spool %s: %w", dir, err)
	}
	s := &Spool{
		log: l, dir: dir, maxBytes: maxBytes, logger: logger, cacheMax: spoolCacheBytes,
		reqs: make(chan *appendReq, 1024), done: make(chan struct{}), loopDone: make(chan struct{}), notify: make(chan struct{}, 1),
	}
	if err := s.scan(); err != nil {
		_ = l.Close()
		return nil, err
	}
	go s.commitLoop()
	return s, nil
}

// scan rebuilds the in-memory index of the entries on disk.
func (s *Spool) scan() error {
	first, err := s.log.FirstIndex()
	if err != nil {
		return fmt.Errorf("spool first index: %w", err)
	}
	last, err := s.log.LastIndex()
	if err != nil {
		return fmt.Errorf("spool last index: %w", err)
	}
	if first == 0 || last < first {
		return nil
	}
	for i := first; i <= last; i++ {
		data, err := s.log.Read(i)
		if err != nil {
			return fmt.Errorf("read spool entry %d: %w", i, err)
		}
		var e spoolEntry
		if err := json.Unmarshal(data, &e); err != nil {
			return fmt.Errorf("decode spool entry %d: %w", i, err)
		}
		for _, r := range e.Reports {
			s.replayed = append(s.replayed, ReplayedReport{Source: r.Source, EventID: r.EventID, RunID: r.RunID, RunStartedAt: r.RunStartedAt})
		}
		s.entries = append(s.entries, entryInfo{index: i, size: int64(len(data)), reports: len(e.Reports), at: e.At})
		s.bytes += int64(len(data))
		s.reports += len(e.Reports)
	}
	if len(s.entries) > 0 {
		s.logger.WithFields(logrus.Fields{"entries": len(s.entries), "reports": s.reports}).Info("spool holds reports from before the restart; replaying")
		s.signal()
	}
	return nil
}

// Append writes the reports as one entry and returns once it is on disk.
func (s *Spool) Append(ctx context.Context, reports []synclog.Report) error {
	at := time.Now()
	payload := appendSpoolEntry(make([]byte, 0, 64+400*len(reports)), at, reports)
	size := int64(len(payload))
	s.sendMu.RLock()
	if s.closed {
		s.sendMu.RUnlock()
		return ErrSpoolClosed
	}
	if size > s.maxBytes {
		s.sendMu.RUnlock()
		return fmt.Errorf("%w: %d bytes, the spool holds %d (--spool-max-bytes)", ErrEntryTooLarge, size, s.maxBytes)
	}
	s.mu.Lock()
	if s.bytes+s.reserved+size > s.maxBytes {
		s.mu.Unlock()
		s.sendMu.RUnlock()
		return ErrSpoolFull
	}
	s.reserved += size
	cache := s.cached+size <= s.cacheMax
	if cache {
		s.cached += size
	}
	s.mu.Unlock()
	req := &appendReq{payload: payload, reports: reports, at: at, cache: cache, err: make(chan error, 1)}
	s.reqs <- req
	s.sendMu.RUnlock()
	// The entry is written whatever happens to ctx now; wait for the fsync
	// so that the answer tells the truth.
	return <-req.err
}

// commitLoop writes queued appends in groups, one fsync per group.
func (s *Spool) commitLoop() {
	defer close(s.loopDone)
	var batch wal.Batch
	for {
		var first *appendReq
		select {
		case first = <-s.reqs:
		case <-s.done:
			// Appends queued before Close are written, not dropped.
			select {
			case first = <-s.reqs:
			default:
				return
			}
		}
		group := []*appendReq{first}
	drain:
		for len(group) < 4096 {
			select {
			case r := <-s.reqs:
				group = append(group, r)
			default:
				break drain
			}
		}
		s.writeGroup(&batch, group)
	}
}

func (s *Spool) writeGroup(batch *wal.Batch, group []*appendReq) {
	batch.Clear()
	last, err := s.log.LastIndex()
	if err == nil {
		for i, r := range group {
			batch.Write(last+1+uint64(i), r.payload)
		}
		err = s.log.WriteBatch(batch)
	}
	s.mu.Lock()
	for i, r := range group {
		size := int64(len(r.payload))
		s.reserved -= size
		if err == nil {
			e := entryInfo{index: last + 1 + uint64(i), size: size, reports: len(r.reports), at: r.at}
			if r.cache {
				e.cached = r.reports
			}
			s.entries = append(s.entries, e)
			s.bytes += size
			s.reports += len(r.reports)
		} else if r.cache {
			s.cached -= size
		}
	}
	if err != nil {
		s.lastErr = err
	} else {
		s.lastErr = nil
	}
	s.mu.Unlock()
	for _, r := range group {
		if err != nil {
			r.err <- fmt.Errorf("write spool: %w", err)
		} else {
			r.err <- nil
		}
	}
	if err == nil {
		s.signal()
	}
}

func (s *Spool) signal() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// Notify returns a channel that receives after new entries are written.
func (s *Spool) Notify() <-chan struct{} { return s.notify }

// SpooledBatch is a run of consecutive entries read for insertion.
type SpooledBatch struct {
	Reports []synclog.Report
	// Last is the index of the last entry in the batch; pass it to Commit.
	Last uint64
	// Oldest is when the first entry of the batch was appended.
	Oldest time.Time
}

// Pending returns how many reports wait and when the oldest was appended.
func (s *Spool) Pending() (reports int, oldest time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.entries) == 0 {
		return 0, time.Time{}
	}
	return s.reports, s.entries[0].at
}

// Read returns the oldest entries, whole, up to about max reports (at least
// one entry), without removing them. It returns an empty batch when the
// spool is empty.
func (s *Spool) Read(max int) (SpooledBatch, error) {
	s.mu.Lock()
	var infos []entryInfo
	n := 0
	for _, e := range s.entries {
		if len(infos) > 0 && n+e.reports > max {
			break
		}
		infos = append(infos, e)
		n += e.reports
	}
	s.mu.Unlock()
	var b SpooledBatch
	if len(infos) == 0 {
		return b, nil
	}
	b.Reports = make([]synclog.Report, 0, n)
	for _, info := range infos {
		if info.cached != nil {
			b.Reports = append(b.Reports, info.cached...)
			continue
		}
		data, err := s.log.Read(info.index)
		if err != nil {
			return SpooledBatch{}, fmt.Errorf("read spool entry %d: %w", info.index, err)
		}
		var e spoolEntry
		if err := json.Unmarshal(data, &e); err != nil {
			return SpooledBatch{}, fmt.Errorf("decode spool entry %d: %w", info.index, err)
		}
		b.Reports = append(b.Reports, e.Reports...)
	}
	b.Last = infos[len(infos)-1].index
	b.Oldest = infos[0].at
	return b, nil
}

// Commit removes every entry up to and including last: ClickHouse has them.
func (s *Spool) Commit(last uint64) error {
	if err := s.log.TruncateFront(last + 1); err != nil {
		return fmt.Errorf("truncate spool: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i := sort.Search(len(s.entries), func(i int) bool { return s.entries[i].index > last })
	for _, e := range s.entries[:i] {
		s.bytes -= e.size
		s.reports -= e.reports
		if e.cached != nil {
			s.cached -= e.size
		}
	}
	s.entries = append(s.entries[:0:0], s.entries[i:]...)
	return nil
}

// Replayed returns, once, the reports the spool held when it was opened:
// acknowledged before a restart, and perhaps not yet in ClickHouse. The
// server remembers their event ids, so that a retry is answered as a
// duplicate rather than stored again, and their runs' start, so that later
// reports of those runs join them.
func (s *Spool) Replayed() []ReplayedReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.replayed
	s.replayed = nil
	return r
}

// Stats returns the spool's current figures.
func (s *Spool) Stats() SpoolStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := SpoolStats{Entries: len(s.entries), Reports: s.reports, Bytes: s.bytes + s.reserved, MaxBytes: s.maxBytes, LastError: s.lastErr}
	if len(s.entries) > 0 {
		st.Oldest = s.entries[0].at
	}
	return st
}

// Close stops accepting appends and closes the log; unread entries stay on
// disk for the next start.
func (s *Spool) Close() error {
	s.sendMu.Lock()
	if s.closed {
		s.sendMu.Unlock()
		return nil
	}
	s.closed = true
	s.sendMu.Unlock()
	close(s.done)
	<-s.loopDone
	if err := s.log.Close(); err != nil {
		return fmt.Errorf("close spool: %w", err)
	}
	return nil
}

// repairTail cuts an incomplete entry off the end of the last segment of a
// binary tidwall/wal log in dir. Entries are a uvarint length and the data.
func repairTail(dir string) error {
	names, err := filepath.Glob(filepath.Join(dir, "[0-9]*"))
	if err != nil {
		return err
	}
	sort.Strings(names)
	if len(names) == 0 {
		return errors.New("no segment files")
	}
	last := names[len(names)-1]
	f, err := os.OpenFile(last, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return err
	}
	good := 0
	for good < len(data) {
		n, k := binary.Uvarint(data[good:])
		if k <= 0 || uint64(len(data)-good-k) < n {
			break
		}
		good += k + int(n)
	}
	if good == len(data) {
		return errors.New("last segment is whole; corruption is elsewhere")
	}
	if err := f.Truncate(int64(good)); err != nil {
		return err
	}
	return f.Sync()
}
