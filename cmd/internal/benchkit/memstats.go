package benchkit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// MemStats is the part of a Go program's runtime.MemStats a benchmark reads, as its heap
// profile prints them (net/http/pprof, /debug/pprof/heap?debug=1).
type MemStats struct {
	HeapInuse  uint64 // bytes in in-use heap spans ("# HeapInuse = N")
	HeapAlloc  uint64 // bytes of allocated heap objects ("# HeapAlloc = N")
	StackInuse uint64 // bytes in stack spans in use: goroutine stacks ("# Stack = inuse / sys")
	StackSys   uint64 // stack memory obtained from the OS ("# Stack = inuse / sys")
	Sys        uint64 // all memory obtained from the OS ("# Sys = N")
}

// memStatsMarker opens the MemStats section at the end of a debug=1 heap profile.
const memStatsMarker = "# runtime.MemStats"

// ParseMemStats reads the "# Name = value" lines that follow "# runtime.MemStats" in a heap
// profile printed with debug=1. HeapInuse and Stack must be present; lines it does not know
// are ignored.
func ParseMemStats(b []byte) (MemStats, error) {
	s := string(b)
	i := strings.Index(s, memStatsMarker+"\n")
	if i < 0 {
		return MemStats{}, errors.New("memstats: no " + memStatsMarker + " section")
	}
	var m MemStats
	var seen uint8 // bit 0: HeapInuse, bit 1: Stack
	for _, line := range strings.Split(s[i+len(memStatsMarker)+1:], "\n") {
		rest, ok := strings.CutPrefix(line, "# ")
		if !ok {
			if strings.TrimSpace(line) == "" {
				continue
			}
			break // the section has ended
		}
		name, val, ok := strings.Cut(rest, " = ")
		if !ok {
			continue
		}
		num := func(v string) (uint64, error) {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("memstats: %s %q", name, strings.TrimSpace(val))
			}
			return n, nil
		}
		var err error
		switch name {
		case "HeapInuse":
			m.HeapInuse, err = num(val)
			seen |= 1
		case "HeapAlloc":
			m.HeapAlloc, err = num(val)
		case "Sys":
			m.Sys, err = num(val)
		case "Stack":
			inuse, sys, ok := strings.Cut(val, " / ")
			if !ok {
				return MemStats{}, fmt.Errorf("memstats: Stack %q, want \"inuse / sys\"", val)
			}
			if m.StackInuse, err = num(inuse); err == nil {
				m.StackSys, err = num(sys)
			}
			seen |= 2
		}
		if err != nil {
			return MemStats{}, err
		}
	}
	if seen != 3 {
		return MemStats{}, errors.New("memstats: HeapInuse or Stack missing")
	}
	return m, nil
}

// maxHeapProfile bounds what FetchMemStats reads of a heap profile.
const maxHeapProfile = 64 << 20

// FetchMemStats asks the profiler of a Go program at pprofAddr (host:port of net/http/pprof)
// for its heap profile after a forced garbage collection (gc=1), so that HeapInuse counts live
// memory only, and returns its MemStats.
func FetchMemStats(ctx context.Context, pprofAddr string) (MemStats, error) {
	if pprofAddr == "" {
		return MemStats{}, errors.New("no profiler address (the program runs without -pprof)")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+pprofAddr+"/debug/pprof/heap?debug=1&gc=1", nil)
	if err != nil {
		return MemStats{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return MemStats{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return MemStats{}, fmt.Errorf("heap profile: %s", resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxHeapProfile))
	if err != nil {
		return MemStats{}, err
	}
	return ParseMemStats(b)
}
