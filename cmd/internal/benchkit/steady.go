package benchkit

import (
	"context"
	"time"
)

// Steady reports whether the last span+1 of samples, taken at a fixed interval, changed by
// less than tolerance (a fraction: 0.01 is 1%) of their largest value: max − min < tolerance ×
// max. Fewer samples than span+1 are not steady yet; samples that do not change at all are
// steady, zero included.
func Steady(samples []int64, span int, tolerance float64) bool {
	if span < 1 || len(samples) < span+1 {
		return false
	}
	w := samples[len(samples)-span-1:]
	lo, hi := w[0], w[0]
	for _, v := range w[1:] {
		lo, hi = min(lo, v), max(hi, v)
	}
	return hi == lo || float64(hi-lo) < tolerance*float64(hi)
}

// Settling is how a WaitSteady ended.
type Settling struct {
	Value  int64         // the last sample
	After  time.Duration // from the first sample to the last
	Steady bool          // false: limit reached first
}

// WaitSteady calls sample at once and then every interval until the samples of the last over
// are Steady within tolerance, or limit has passed since the first sample, or ctx ends (its
// error is returned).
func WaitSteady(ctx context.Context, sample func() int64, interval, over, limit time.Duration, tolerance float64) (Settling, error) {
	span := max(1, int(over/interval))
	start := time.Now()
	samples := []int64{sample()}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return Settling{}, ctx.Err()
		case <-t.C:
		}
		samples = append(samples, sample())
		s := Settling{Value: samples[len(samples)-1], After: time.Since(start)}
		if Steady(samples, span, tolerance) {
			s.Steady = true
			return s, nil
		}
		if s.After >= limit {
			return s, nil
		}
	}
}
