//go:build !linux

package main

import "time"

// preciseSleeper is time.Sleep where nanosleep with a thread's timer slack is not at hand.
type preciseSleeper struct{}

func newPreciseSleeper() *preciseSleeper        { return &preciseSleeper{} }
func (p *preciseSleeper) sleep(d time.Duration) { time.Sleep(d) }
func (p *preciseSleeper) done()                 {}
