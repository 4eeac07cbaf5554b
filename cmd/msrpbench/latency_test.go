package main

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/simplegw/simplegw/bridge/msrp"
)

func TestPercentile(t *testing.T) {
	seq := func(n int) []time.Duration {
		v := make([]time.Duration, n)
		for i := range v {
			v[i] = time.Duration(i + 1)
		}
		return v
	}
	for _, tc := range []struct {
		n    int
		p    float64
		want time.Duration
	}{
		{0, 0.5, 0},
		{1, 0.5, 1},
		{1, 0.999, 1},
		{2, 0.5, 1}, // nearest rank: the smallest value with at least half at or below it
		{10, 0.5, 5},
		{10, 0.99, 10},
		{100, 0.99, 99},
		{1000, 0.5, 500},
		{1000, 0.99, 990},
		{1000, 0.999, 999},
		{2000, 0.999, 1998},
		{10000, 0.999, 9990},
		{5, 1, 5},
	} {
		if got := percentile(seq(tc.n), tc.p); got != tc.want {
			t.Errorf("percentile(1..%d, %v) = %d, want %d", tc.n, tc.p, got, tc.want)
		}
	}
}

func TestScheduleExamples(t *testing.T) {
	s := schedule{rate: 1000}
	for _, tc := range []struct {
		elapsed time.Duration
		want    int64
	}{
		{-time.Millisecond, 0},
		{-1, 0},
		{0, 1}, // message 0 is due at the start
		{999 * time.Microsecond, 1},
		{time.Millisecond, 2},
		{time.Second, 1001},
	} {
		if got := s.dueBy(tc.elapsed); got != tc.want {
			t.Errorf("rate 1000: dueBy(%v) = %d, want %d", tc.elapsed, got, tc.want)
		}
	}
	if got := (schedule{rate: 3}).due(1); got != 333333333 {
		t.Errorf("rate 3: due(1) = %d ns, want 333333333 (rounded down)", got)
	}
	if got := (schedule{rate: 10000}).due(25000); got != 2500*time.Millisecond {
		t.Errorf("rate 10000: due(25000) = %v, want 2.5s", got)
	}
}

// dueBy and due must agree exactly — dueBy(due(i)) counts message i, dueBy just before does
// not — or the pacer would send a message early or wait past its due time.
func TestScheduleConsistent(t *testing.T) {
	for _, rate := range []int64{1, 3, 7, 1000, 4999, 5000, 7919, 10000, 1_000_000_007} {
		s := schedule{rate: rate}
		prev := time.Duration(-1)
		for i := int64(0); i < 20000; i++ {
			d := s.due(i)
			if d < prev {
				t.Fatalf("rate %d: due(%d) = %v before due(%d) = %v", rate, i, d, i-1, prev)
			}
			if got := s.dueBy(d); got < i+1 {
				t.Fatalf("rate %d: dueBy(due(%d) = %v) = %d, want ≥ %d", rate, i, d, got, i+1)
			}
			if d > prev {
				if got := s.dueBy(d - 1); got != i {
					t.Fatalf("rate %d: dueBy(due(%d)-1) = %d, want %d", rate, i, got, i)
				}
			}
			prev = d
		}
	}
}

// The latency probe's tag sits at the start of the body, and patching it leaves a valid SEND.
func TestTemplateTag(t *testing.T) {
	to, _ := msrp.ParseURI("msrp://127.0.0.1:2855/relay;tcp")
	from, _ := msrp.ParseURI("msrp://127.0.0.1:9/peer;tcp")
	for _, size := range []int{1, 15, 16, 17, 1024, 65536} {
		tmpl := newTemplate([]msrp.URI{to}, from, size)
		for _, tag := range []uint64{0, 7, 3*tagRun + 123456} {
			tmpl.setTag(tag)
			m, err := msrp.Parse(tmpl.next(42 + tag))
			if err != nil {
				t.Fatalf("size %d, tag %d: %v", size, tag, err)
			}
			if want := (fmtDigits(42 + tag)); m.TransactionID != want {
				t.Fatalf("size %d: transaction id %q, want %q", size, m.TransactionID, want)
			}
			if len(m.Body) != size {
				t.Fatalf("size %d: body of %d bytes", size, len(m.Body))
			}
			got, ok := parseDigits(m.Body)
			if size < tagLen {
				if ok {
					t.Fatalf("size %d: a tag in a body too short for one", size)
				}
				continue
			}
			if !ok || got != tag {
				t.Fatalf("size %d: body starts %q, want tag %d", size, m.Body[:tagLen], tag)
			}
		}
	}
}

func fmtDigits(n uint64) string {
	s := strconv.FormatUint(n, 10)
	for len(s) < 16 {
		s = "0" + s
	}
	return s
}

func TestParseDigits(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"0000000000000042xxxx", 42, true},
		{"9999999999999999", 9999999999999999, true},
		{"000000000000004", 0, false},
		{"00000000000000-1", 0, false},
		{"", 0, false},
	} {
		got, ok := parseDigits([]byte(tc.in))
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseDigits(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestRecorder(t *testing.T) {
	sched := schedule{rate: 1000}
	start := time.Now().Add(-time.Second) // every message below is due in the past
	r := newRecorder(start, sched, 4, 2, 8)
	tag := func(run, i uint64) []byte {
		var d [16]byte
		putDigits(&d, run*tagRun+i)
		return d[:]
	}
	r.arrive(tag(3, 5))         // an earlier run's message: ignored
	r.arrive([]byte("garbage")) // not a probe: ignored
	r.arrive(tag(4, 0))         // warm-up: counted, not measured
	r.arrive(tag(4, 1))
	r.arrive(tag(4, 2))
	r.arrive(tag(4, 900))
	r.wait(context.Background(), 4, time.Minute) // returns at once: all four are in
	if r.got != 4 || len(r.lat) != 2 {
		t.Fatalf("got %d arrivals and %d measured, want 4 and 2", r.got, len(r.lat))
	}
	// Latency runs from the due time: message 2 was due 998 ms before message 900 was.
	if d := r.lat[0] - r.lat[1]; d < 890*time.Millisecond || d > 898*time.Millisecond {
		t.Fatalf("latencies %v: message 2 should have waited about 898 ms longer than message 900", r.lat)
	}
	if r.lat[1] < 99*time.Millisecond {
		t.Fatalf("message 900 was due 100 ms before the recorder's clock reached 1 s, latency %v", r.lat[1])
	}

	// wait gives up once nothing arrives for the grace period, and on a cancelled context.
	r.wait(context.Background(), 5, time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r.wait(ctx, 5, time.Minute)
}

// paced sends what is due, in order, each with its tag, and stops at the end of its time.
func TestPaced(t *testing.T) {
	s, err := newSink()
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	snd, err := plainPeer(s.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer snd.w.close()
	snd.to = s.path()
	sched := schedule{rate: 2000}
	start := time.Now()
	rec := newRecorder(start, sched, 9, 0, 1000)
	s.rec.Store(rec)
	defer s.rec.Store(nil)
	sent, err := snd.paced(context.Background(), latencyBody, sched, 9*tagRun, start, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	// 200 are due in the first 100 ms; the last batch may be cut at the end.
	if sent < 150 || sent > 200 {
		t.Fatalf("sent %d in 100 ms at 2000 msgs/s", sent)
	}
	rec.wait(context.Background(), sent, 5*time.Second)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.got != sent || int64(len(rec.lat)) != sent {
		t.Fatalf("sent %d, %d arrived, %d measured", sent, rec.got, len(rec.lat))
	}
	for i, l := range rec.lat {
		if l < 0 {
			t.Fatalf("message %d arrived %v before it was due", i, -l)
		}
	}
}
