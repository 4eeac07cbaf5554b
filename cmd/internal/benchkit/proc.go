package benchkit

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// What a relaying process spends, read from Linux's procfs (proc(5)): CPU time from
// /proc/PID/stat and read-like and write-like system calls from /proc/PID/io. Both files cover
// every thread of the process, those that have exited included.

// ClockTicks is the unit of utime and stime in /proc/PID/stat, in ticks per second: USER_HZ,
// which Linux fixes at 100 for user space on every architecture Go supports there, whatever the
// kernel's own HZ (`getconf CLK_TCK` prints it).
const ClockTicks = 100

// Stat is the part of /proc/PID/stat a benchmark reads (proc(5), fields 5, 14 and 15).
type Stat struct {
	Pgrp  int    // process group
	UTime uint64 // CPU time in user mode, in ClockTicks
	STime uint64 // CPU time in kernel mode, in ClockTicks
}

// CPU is UTime+STime as a duration.
func (s Stat) CPU() time.Duration {
	t := s.UTime + s.STime
	return time.Duration(t/ClockTicks)*time.Second + time.Duration(t%ClockTicks)*(time.Second/ClockTicks)
}

// ParseStat parses the contents of /proc/PID/stat: "pid (comm) state ppid pgrp …". The command
// name comm may hold spaces and parentheses, so it ends at the line's last ')'.
func ParseStat(b []byte) (Stat, error) {
	open := bytes.IndexByte(b, '(')
	end := bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return Stat{}, errors.New("stat: no (comm) field")
	}
	if _, err := strconv.Atoi(string(bytes.TrimSpace(b[:open]))); err != nil {
		return Stat{}, fmt.Errorf("stat: pid %q", bytes.TrimSpace(b[:open]))
	}
	// After comm: state (field 3), ppid, pgrp (5), … utime (14), stime (15).
	f := strings.Fields(string(b[end+1:]))
	if len(f) < 13 {
		return Stat{}, fmt.Errorf("stat: %d fields after comm, want at least 13", len(f))
	}
	var s Stat
	var err error
	if s.Pgrp, err = strconv.Atoi(f[2]); err != nil {
		return Stat{}, fmt.Errorf("stat: pgrp %q", f[2])
	}
	if s.UTime, err = strconv.ParseUint(f[11], 10, 64); err != nil {
		return Stat{}, fmt.Errorf("stat: utime %q", f[11])
	}
	if s.STime, err = strconv.ParseUint(f[12], 10, 64); err != nil {
		return Stat{}, fmt.Errorf("stat: stime %q", f[12])
	}
	return s, nil
}

// IO is the part of /proc/PID/io a benchmark reads: how many read-like and write-like system
// calls the process has made. The kernel counts read, readv, pread, write, writev, pwrite and
// the like (the VFS read and write paths) — not send/recv-family socket calls, splice,
// epoll_wait or futex.
type IO struct {
	SysCR int64 // syscr: read-like system calls
	SysCW int64 // syscw: write-like system calls
}

// ParseIO parses the contents of /proc/PID/io ("key: value" lines); syscr and syscw must be
// present.
func ParseIO(b []byte) (IO, error) {
	var c IO
	var seen uint8 // bit 0: syscr, bit 1: syscw
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		var dst *int64
		var bit uint8
		switch strings.TrimSpace(k) {
		case "syscr":
			dst, bit = &c.SysCR, 1
		case "syscw":
			dst, bit = &c.SysCW, 2
		default:
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n < 0 {
			return IO{}, fmt.Errorf("io: %s %q", strings.TrimSpace(k), strings.TrimSpace(v))
		}
		*dst = n
		seen |= bit
	}
	if seen != 3 {
		return IO{}, errors.New("io: syscr or syscw missing")
	}
	return c, nil
}

// Usage is what a process, or a group of processes, has spent since it started: CPU time in
// user and kernel mode, and read-like plus write-like system calls (IO). The difference of two
// readings is what it spent in between.
type Usage struct {
	CPU      time.Duration
	Syscalls int64
}

// Add returns u + v.
func (u Usage) Add(v Usage) Usage { return Usage{u.CPU + v.CPU, u.Syscalls + v.Syscalls} }

// Sub returns u − v.
func (u Usage) Sub(v Usage) Usage { return Usage{u.CPU - v.CPU, u.Syscalls - v.Syscalls} }

// PerMessage is what u amounts to per message over n messages: CPU in microseconds and
// system calls; both 0 when n is not positive.
func (u Usage) PerMessage(n int64) (cpuMicros, syscalls float64) {
	if n <= 0 {
		return 0, 0
	}
	return float64(u.CPU) / float64(time.Microsecond) / float64(n), float64(u.Syscalls) / float64(n)
}

func procFile(pid int, name string) ([]byte, error) {
	return os.ReadFile("/proc/" + strconv.Itoa(pid) + "/" + name)
}

// ReadStat reads /proc/PID/stat.
func ReadStat(pid int) (Stat, error) {
	b, err := procFile(pid, "stat")
	if err != nil {
		return Stat{}, err
	}
	return ParseStat(b)
}

// ReadUsage reads what process pid (all its threads) has spent so far. Its /proc/PID/io is
// readable by the same user.
func ReadUsage(pid int) (Usage, error) {
	st, err := ReadStat(pid)
	if err != nil {
		return Usage{}, err
	}
	b, err := procFile(pid, "io")
	if err != nil {
		return Usage{}, err
	}
	c, err := ParseIO(b)
	if err != nil {
		return Usage{}, err
	}
	return Usage{CPU: st.CPU(), Syscalls: c.SysCR + c.SysCW}, nil
}

// GroupPIDs lists the processes of process group pgid, in /proc order.
func GroupPIDs(pgid int) ([]int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !e.IsDir() {
			continue
		}
		st, err := ReadStat(pid)
		if err != nil {
			continue // exited meanwhile, or not ours to read
		}
		if st.Pgrp == pgid {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// ReadGroupUsage sums ReadUsage over every process of process group pgid (a server and the
// workers it forked). A process that exits between the listing and its reading is left out;
// a group with no process left is an error.
func ReadGroupUsage(pgid int) (Usage, error) {
	pids, err := GroupPIDs(pgid)
	if err != nil {
		return Usage{}, err
	}
	var sum Usage
	read := 0
	for _, pid := range pids {
		u, err := ReadUsage(pid)
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
			continue // exited since the listing
		}
		if err != nil {
			return Usage{}, fmt.Errorf("process %d of group %d: %w", pid, pgid, err)
		}
		sum = sum.Add(u)
		read++
	}
	if read == 0 {
		return Usage{}, fmt.Errorf("no process in group %d", pgid)
	}
	return sum, nil
}
