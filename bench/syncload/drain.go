package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// health is the part of GET /api/v1/health the drain wait reads.
type health struct {
	Components map[string]struct {
		Detail map[string]any `json:"detail"`
	} `json:"components"`
}

// waitDrain polls base's /api/v1/health until the spool holds no report,
// and takes the batcher's last flush as the time the last row was stored.
func waitDrain(ctx context.Context, base, token string, res *Result, limit time.Duration) *Drain {
	d := &Drain{}
	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(limit)
	for ctx.Err() == nil && time.Now().Before(deadline) {
		h, err := getHealth(ctx, client, base, token)
		if err == nil {
			sp := h.Components["spool"].Detail
			reports, _ := sp["reports"].(float64)
			bytes, _ := sp["bytes"].(float64)
			maxBytes, _ := sp["max_bytes"].(float64)
			d.SpoolPeakBytes = max(d.SpoolPeakBytes, int64(bytes))
			d.SpoolMaxBytes = int64(maxBytes)
			if reports == 0 {
				lf, _ := h.Components["batcher"].Detail["last_flush"].(string)
				if t, err := time.Parse(time.RFC3339Nano, lf); err == nil {
					d.Drained = true
					d.LastFlushUnix = unixSeconds(t)
					d.Seconds = d.LastFlushUnix - res.StartUnix
					if d.Seconds > 0 {
						d.ReportsPerSec = float64(res.ReportsAckedAll) / d.Seconds
					}
					return d
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return d
}

func getHealth(ctx context.Context, client *http.Client, base, token string) (*health, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/api/v1/health", nil)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var h health
	// 503 (failing) still carries the report.
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		return nil, err
	}
	return &h, nil
}

// memSampler reads a process's VmRSS every second.
type memSampler struct {
	pid     int
	mu      sync.Mutex
	samples []int64
	hwm     int64
	done    chan struct{}
	stopped chan struct{}
}

func startMemSampler(pid int) *memSampler {
	m := &memSampler{pid: pid, done: make(chan struct{}), stopped: make(chan struct{})}
	m.sample()
	go func() {
		defer close(m.stopped)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-m.done:
				return
			case <-t.C:
				m.sample()
			}
		}
	}()
	return m
}

func (m *memSampler) sample() {
	rss, hwm, ok := readMem(m.pid)
	if !ok {
		return
	}
	m.mu.Lock()
	m.samples = append(m.samples, rss)
	m.hwm = max(m.hwm, hwm)
	m.mu.Unlock()
}

func (m *memSampler) stop() *Memory {
	close(m.done)
	<-m.stopped
	m.sample()
	m.mu.Lock()
	defer m.mu.Unlock()
	mem := &Memory{PID: m.pid, HWMMiB: float64(m.hwm) / 1024, Samples: m.samples}
	if len(m.samples) > 0 {
		mem.StartRSSMiB = float64(m.samples[0]) / 1024
		mem.EndRSSMiB = float64(m.samples[len(m.samples)-1]) / 1024
		for _, s := range m.samples {
			mem.PeakRSSMiB = max(mem.PeakRSSMiB, float64(s)/1024)
		}
	}
	return mem
}

// cpuTimes returns the CPU seconds (user and system) of process pid (0
// for none) and of this process.
func cpuTimes(pid int) [2]float64 {
	var t [2]float64
	if pid > 0 {
		if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil {
			// Fields after the parenthesised command name; utime and stime
			// are the 14th and 15th fields, in clock ticks (100 a second on
			// Linux).
			if i := bytes.LastIndexByte(b, ')'); i >= 0 {
				f := bytes.Fields(b[i+1:])
				if len(f) > 13 {
					u, _ := strconv.ParseFloat(string(f[11]), 64)
					s, _ := strconv.ParseFloat(string(f[12]), 64)
					t[0] = (u + s) / 100
				}
			}
		}
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		t[1] = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	}
	return t
}

// readMem returns VmRSS and VmHWM in KiB.
func readMem(pid int) (rss, hwm int64, ok bool) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Bytes()
		for _, k := range []struct {
			key string
			dst *int64
		}{{"VmRSS:", &rss}, {"VmHWM:", &hwm}} {
			if v, found := bytes.CutPrefix(line, []byte(k.key)); found {
				fields := bytes.Fields(v)
				if len(fields) > 0 {
					*k.dst, _ = strconv.ParseInt(string(fields[0]), 10, 64)
				}
			}
		}
	}
	return rss, hwm, rss > 0
}
