package benchkit

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestSteady(t *testing.T) {
	flat := []int64{1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000}
	for _, tc := range []struct {
		name    string
		samples []int64
		span    int
		want    bool
	}{
		{"too few samples", flat[:8], 8, false},
		{"flat", flat, 8, true},
		{"within 1%", []int64{1000, 1003, 1006, 1009, 1005, 1002, 1008, 1001, 1004}, 8, true},
		{"just below 1% of the largest", []int64{1000, 1010}, 1, true},
		{"just above", []int64{1000, 1011}, 1, false},
		{"still growing", []int64{1000, 1005, 1010, 1015, 1020, 1025, 1030, 1035, 1040}, 8, false},
		{"a jump at the start of the span", []int64{900, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000}, 8, false},
		{"a drop at its end", []int64{1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 980}, 8, false},
		{"older samples do not count", []int64{10, 500, 900, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000}, 8, true},
		{"zero throughout", []int64{0, 0, 0}, 2, true},
		{"no span", flat, 0, false},
	} {
		if got := Steady(tc.samples, tc.span, 0.01); got != tc.want {
			t.Errorf("%s: Steady(%v, %d, 1%%) = %v, want %v", tc.name, tc.samples, tc.span, got, tc.want)
		}
	}
}

// seq returns a sampler that yields v one by one, then its last value forever, and counts the
// calls.
func seq(v ...int64) (func() int64, *int) {
	calls := 0
	return func() int64 {
		calls++
		return v[min(calls, len(v))-1]
	}, &calls
}

func TestWaitSteady(t *testing.T) {
	// Over 4 ms at 1 ms: steady once 5 samples in a row are within 1%, i.e. at the 9th.
	sample, calls := seq(100, 200, 300, 400, 500, 501, 500, 502, 500, 900)
	s, err := WaitSteady(context.Background(), sample, time.Millisecond, 4*time.Millisecond, time.Hour, 0.01)
	if err != nil || !s.Steady || s.Value != 500 || *calls != 9 {
		t.Fatalf("WaitSteady = %+v, %v after %d samples; want steady at 500 after 9", s, err, *calls)
	}
}

func TestWaitSteadyLimit(t *testing.T) {
	n := int64(0)
	growing := func() int64 { n += 100; return n }
	limit := 20 * time.Millisecond
	s, err := WaitSteady(context.Background(), growing, time.Millisecond, 4*time.Millisecond, limit, 0.01)
	if err != nil || s.Steady || s.After < limit || s.Value != n {
		t.Fatalf("WaitSteady on a growing value = %+v, %v; want not steady after at least %v, the last sample %d", s, err, limit, n)
	}
}

func TestWaitSteadyCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := int64(0)
	sample := func() int64 {
		if n++; n == 3 {
			cancel()
		}
		return n * 1000
	}
	if _, err := WaitSteady(ctx, sample, time.Millisecond, 4*time.Millisecond, time.Hour, 0.01); !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitSteady after cancel: %v", err)
	}
}
