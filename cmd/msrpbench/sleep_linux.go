package main

import (
	"runtime"
	"syscall"
	"time"
)

// prctl(2) options for the calling thread's timer slack, in nanoseconds: how late the kernel
// may wake a sleeping thread so as to batch wake-ups (50 µs by default).
const (
	prSetTimerSlack = 29
	prGetTimerSlack = 30
)

// preciseSleeper sleeps with nanosleep(2) on a thread of its own whose timer slack is 1 ns:
// time.Sleep wakes up to a millisecond late on Linux (the runtime's timers are polled at
// millisecond resolution), which would be counted as latency of the path under test.
type preciseSleeper struct {
	slack uintptr // the thread's timer slack before, restored by done
}

// newPreciseSleeper locks the calling goroutine to its thread and lowers the thread's timer
// slack; the same goroutine must call done when it has finished sleeping.
func newPreciseSleeper() *preciseSleeper {
	runtime.LockOSThread()
	slack, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prGetTimerSlack, 0, 0)
	if errno != 0 {
		return &preciseSleeper{}
	}
	syscall.RawSyscall(syscall.SYS_PRCTL, prSetTimerSlack, 1, 0)
	return &preciseSleeper{slack: slack}
}

func (p *preciseSleeper) sleep(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	for syscall.Nanosleep(&ts, &ts) == syscall.EINTR {
	}
}

func (p *preciseSleeper) done() {
	if p.slack != 0 {
		syscall.RawSyscall(syscall.SYS_PRCTL, prSetTimerSlack, p.slack, 0)
	}
	runtime.UnlockOSThread()
}
