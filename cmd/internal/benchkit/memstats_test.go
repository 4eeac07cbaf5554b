package benchkit

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/pprof"
	runpprof "runtime/pprof"
	"strings"
	"testing"
)

// heapSample is the shape of a heap profile printed with debug=1: records whose stack lines
// also start with '#', then the MemStats section.
const heapSample = `heap profile: 3: 2048 [10: 8192] @ heap/524288
1: 1024 [4: 4096] @ 0x4a1b2c 0x4a1d3e
#	0x4a1b2b	main.alloc+0x2b	/src/main.go:10
#	0x4a1d3d	main.main+0x1d	/src/main.go:20

2: 1024 [6: 4096] @ 0x4a1b2c

# runtime.MemStats
# Alloc = 1310720
# TotalAlloc = 9437184
# Sys = 12979216
# Lookups = 0
# Mallocs = 4321
# Frees = 1234
# HeapAlloc = 1310720
# HeapSys = 7962624
# HeapIdle = 5529600
# HeapInuse = 2433024
# HeapReleased = 5160960
# HeapObjects = 3087
# Stack = 425984 / 425984
# MSpan = 71680 / 81600
# MCache = 14496 / 15600
# BuckHashSys = 1445393
# GCSys = 2570336
# OtherSys = 478063
# NextGC = 4194304
# LastGC = 1763797600000000000
# PauseNs = [35123 41234 0 0]
# PauseEnd = [1763797600000000000 0 0]
# NumGC = 2
# NumForcedGC = 1
# GCCPUFraction = 0.0001234
# DebugGC = false
# MaxRSS = 16384000
`

func TestParseMemStats(t *testing.T) {
	got, err := ParseMemStats([]byte(heapSample))
	want := MemStats{HeapInuse: 2433024, HeapAlloc: 1310720, StackInuse: 425984, StackSys: 425984, Sys: 12979216}
	if err != nil || got != want {
		t.Fatalf("ParseMemStats = %+v, %v; want %+v", got, err, want)
	}
}

func TestParseMemStatsErrors(t *testing.T) {
	for name, text := range map[string]string{
		"no section":       strings.Replace(heapSample, "# runtime.MemStats\n", "", 1),
		"HeapInuse absent": strings.Replace(heapSample, "# HeapInuse = 2433024\n", "", 1),
		"Stack absent":     strings.Replace(heapSample, "# Stack = 425984 / 425984\n", "", 1),
		"Stack one number": strings.Replace(heapSample, "# Stack = 425984 / 425984", "# Stack = 425984", 1),
		"Stack not number": strings.Replace(heapSample, "# Stack = 425984 / 425984", "# Stack = lots / 425984", 1),
		"HeapInuse bad":    strings.Replace(heapSample, "# HeapInuse = 2433024", "# HeapInuse = -1", 1),
		"empty":            "",
	} {
		if m, err := ParseMemStats([]byte(text)); err == nil {
			t.Errorf("%s: ParseMemStats = %+v, want an error", name, m)
		}
	}
}

// The parser reads what this Go version's runtime/pprof really prints.
func TestParseMemStatsOfRuntime(t *testing.T) {
	var b bytes.Buffer
	if err := runpprof.Lookup("heap").WriteTo(&b, 1); err != nil {
		t.Fatal(err)
	}
	m, err := ParseMemStats(b.Bytes())
	if err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	if m.HeapInuse == 0 || m.StackInuse == 0 || m.StackSys < m.StackInuse || m.Sys < m.HeapInuse {
		t.Fatalf("implausible MemStats of a running program: %+v", m)
	}
}

// FetchMemStats reads a real net/http/pprof handler over loopback.
func TestFetchMemStats(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(pprof.Index))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	m, err := FetchMemStats(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	if m.HeapInuse == 0 || m.StackInuse == 0 {
		t.Fatalf("FetchMemStats = %+v", m)
	}
	notFound := httptest.NewServer(http.NotFoundHandler())
	defer notFound.Close()
	if _, err := FetchMemStats(context.Background(), strings.TrimPrefix(notFound.URL, "http://")); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("a 404 answer: %v", err)
	}
	if _, err := FetchMemStats(context.Background(), ""); err == nil {
		t.Fatal("no profiler address is not an error")
	}
}

func FuzzParseMemStats(f *testing.F) {
	f.Add(heapSample)
	f.Add("# runtime.MemStats\n# HeapInuse = 1\n# Stack = 2 / 3\n")
	f.Add("# runtime.MemStats\n# Stack =  / \n")
	f.Fuzz(func(t *testing.T, text string) {
		m, err := ParseMemStats([]byte(text))
		if err == nil && !strings.Contains(text, memStatsMarker) {
			t.Fatalf("MemStats %+v without the section in %q", m, text)
		}
	})
}
