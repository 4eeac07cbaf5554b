package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/simplegw/simplegw/cmd/internal/benchkit"
)

// schedule is an open-loop send schedule at a fixed rate: message i (from 0) is due i/rate
// seconds after the start, whatever became of the messages before it. Times are offsets from
// the start on the monotonic clock, in whole nanoseconds.
type schedule struct {
	rate int64 // messages per second, > 0
}

// due returns when message i is due: ⌊i·10⁹/rate⌋ ns after the start.
func (s schedule) due(i int64) time.Duration {
	return time.Duration(i * int64(time.Second) / s.rate)
}

// dueBy returns how many messages are due at elapsed: the number of i ≥ 0 with
// due(i) ≤ elapsed, which is ⌈(elapsed+1)·rate/10⁹⌉.
func (s schedule) dueBy(elapsed time.Duration) int64 {
	if elapsed < 0 {
		return 0
	}
	return ((int64(elapsed)+1)*s.rate + int64(time.Second) - 1) / int64(time.Second)
}

// tagRun is the factor that separates a run's number from a message's index in a latency
// probe's tag (tag = run·tagRun + index): a delivery left over from an earlier run, or from
// a throughput run through the same receiver, is never taken for one of this run's.
const tagRun = 1_000_000_000_000

// recorder takes the arrival times of one latency run's messages at its receiver, on the
// same monotonic clock as the sender's schedule. arrive is called from the receiver's
// reading goroutine; the other methods from the measuring goroutine; mu guards the state.
type recorder struct {
	start time.Time
	sched schedule
	run   uint64
	from  int64 // first index measured: those before it are warm-up

	mu      sync.Mutex
	lat     []time.Duration // latency of each measured message, in arrival order
	got     int64           // this run's messages arrived, warm-up included
	last    time.Duration   // arrival of the latest measured message
	arrived chan struct{}   // signalled (without blocking) on every arrival
}

func newRecorder(start time.Time, sched schedule, run uint64, from int64, expect int) *recorder {
	return &recorder{start: start, sched: sched, run: run, from: from,
		lat: make([]time.Duration, 0, expect), arrived: make(chan struct{}, 1)}
}

// arrive records a message whose body starts with head, arriving now.
func (r *recorder) arrive(head []byte) {
	now := time.Since(r.start)
	tag, ok := parseDigits(head)
	if !ok || tag/tagRun != r.run {
		return
	}
	i := int64(tag % tagRun)
	r.mu.Lock()
	r.got++
	if i >= r.from {
		r.lat = append(r.lat, now-r.sched.due(i))
		r.last = now
	}
	r.mu.Unlock()
	select {
	case r.arrived <- struct{}{}:
	default:
	}
}

// wait returns once n messages have arrived, or grace has passed without one arriving, or
// ctx ends.
func (r *recorder) wait(ctx context.Context, n int64, grace time.Duration) {
	t := time.NewTimer(grace)
	defer t.Stop()
	for {
		r.mu.Lock()
		got := r.got
		r.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-r.arrived:
			t.Reset(grace)
		case <-t.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

// percentile returns the p-quantile (0 < p ≤ 1) of sorted by the nearest-rank method: the
// smallest value with at least p of the values at or below it. 0 for no values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	k := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[min(max(k, 0), len(sorted)-1)]
}

// latencyQuantiles are the quantiles the latency rows report.
var latencyQuantiles = []float64{0.50, 0.99, 0.999}

// latencyResult is one latency run: the quantiles of its measured messages and the rate at
// which they were delivered.
type latencyResult struct {
	q        []time.Duration // at latencyQuantiles
	achieved float64         // messages per second delivered
}

// latencyBody is the body size of the latency rows.
const latencyBody = 1024

// measureLatency offers rate msgs/s of latencyBody-byte SENDs on sc for warm-up (d/4, not
// measured) and then d, and returns the latency of each measured message from its due time
// on the schedule to its arrival at the receiver — so a message held up behind a slow one
// counts its wait too — with the delivered rate. Messages still in flight when sending stops
// get up to a second to arrive.
func measureLatency(ctx context.Context, sc scenario, run uint64, rate int64, d time.Duration) (latencyResult, error) {
	snd, cnt, cleanup, err := sc.setup(ctx)
	if err != nil {
		return latencyResult{}, err
	}
	defer cleanup()
	sched := schedule{rate: rate}
	warm := d / 4
	from := sched.dueBy(warm - 1)
	start := time.Now()
	rec := newRecorder(start, sched, run, from, int(sched.dueBy(warm+d)-from))
	cnt.rec.Store(rec)
	defer cnt.rec.Store(nil)
	sent, err := snd.paced(ctx, latencyBody, sched, run*tagRun, start, warm+d)
	if err != nil {
		return latencyResult{}, err
	}
	rec.wait(ctx, sent, time.Second)
	if err := ctx.Err(); err != nil {
		return latencyResult{}, err
	}
	rec.mu.Lock()
	lat := slices.Clone(rec.lat)
	last := rec.last
	rec.mu.Unlock()
	if len(lat) == 0 {
		return latencyResult{}, snd.diagnose()
	}
	slices.Sort(lat)
	res := latencyResult{}
	for _, p := range latencyQuantiles {
		res.q = append(res.q, percentile(lat, p))
	}
	// Delivered over the measured span, or over the time it took when the path fell behind.
	span := max(d, last-sched.due(from))
	res.achieved = float64(len(lat)) / span.Seconds()
	return res, nil
}

// latencyPaths are the paths of the latency rows, the baseline first.
var latencyPaths = []string{"splice", "ws-tcp", "tcp-tcp"}

// latencies prints the latency-at-fixed-rate rows: for each rate, each path's quantiles
// (median of o.runs runs, the paths alternating within a run) and what the relay adds to the
// splice baseline's.
func latencies(ctx context.Context, o options, all map[string]scenario, stdout io.Writer) error {
	fmt.Fprintf(stdout, "\n| latency (%d-byte SENDs at a fixed rate, open loop) | offered msgs/s | achieved msgs/s | p50 ms | p99 ms | p99.9 ms | added p50 ms | added p99 ms | added p99.9 ms |\n", latencyBody)
	fmt.Fprintln(stdout, "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	run := uint64(1)
	for _, rate := range o.rates {
		res := map[string][]latencyResult{}
		for i := 0; i < o.runs; i++ {
			for _, name := range latencyPaths {
				r, err := measureLatency(ctx, all[name], run, int64(rate), o.duration)
				run++
				if err != nil {
					return fmt.Errorf("latency %s at %d msgs/s: %w", name, rate, err)
				}
				res[name] = append(res[name], r)
			}
		}
		base := medianLatency(res["splice"])
		for _, name := range latencyPaths {
			m := medianLatency(res[name])
			fmt.Fprintf(stdout, "| %s | %d | %.0f | %s | %s | %s |", name, rate, m.achieved, ms(m.q[0]), ms(m.q[1]), ms(m.q[2]))
			if name == "splice" {
				fmt.Fprintln(stdout, " – | – | – |")
				continue
			}
			fmt.Fprintf(stdout, " %s | %s | %s |\n", ms(m.q[0]-base.q[0]), ms(m.q[1]-base.q[1]), ms(m.q[2]-base.q[2]))
		}
	}
	return nil
}

// medianLatency is the median of each figure over runs.
func medianLatency(runs []latencyResult) latencyResult {
	out := latencyResult{q: make([]time.Duration, len(latencyQuantiles))}
	for k := range out.q {
		v := make([]time.Duration, len(runs))
		for i, r := range runs {
			v[i] = r.q[k]
		}
		out.q[k] = medianDuration(v)
	}
	rates := make([]float64, len(runs))
	for i, r := range runs {
		rates[i] = r.achieved
	}
	out.achieved = benchkit.Median(rates)
	return out
}

func medianDuration(v []time.Duration) time.Duration {
	f := make([]float64, len(v))
	for i, d := range v {
		f[i] = float64(d)
	}
	return time.Duration(benchkit.Median(f))
}

// ms formats d in milliseconds with microsecond precision.
func ms(d time.Duration) string { return fmt.Sprintf("%.3f", float64(d)/1e6) }
