package benchkit

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// statLine builds a /proc/PID/stat line as proc(5) lays it out (52 fields), with the given
// command name, process group and CPU ticks.
func statLine(pid int, comm string, pgrp int, utime, stime uint64) string {
	return fmt.Sprintf("%d (%s) S 1 %d %d 0 -1 4194560 1790 0 0 0 %d %d 0 0 20 0 9 0 1351651 1320914944 4183 "+
		"18446744073709551615 4194304 9174821 140722453614928 0 0 0 0 0 2143420159 0 0 0 17 1 0 0 0 0 0 "+
		"14344192 14656960 39583744 140722453620517 140722453620585 140722453620585 140722453622757 0\n",
		pid, comm, pgrp, pgrp, utime, stime)
}

func TestParseStat(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		want       Stat
	}{
		{"plain", statLine(4432, "simplegw", 4430, 1234, 567), Stat{Pgrp: 4430, UTime: 1234, STime: 567}},
		// The kernel's own line for cat(1), as read on this machine.
		{"real", "4432 (cat) R 4430 4430 2455 0 -1 4194304 97 0 0 0 3 1 0 0 20 0 1 0 1351651 3133440 360 18446744073709551615 94490414555136 94490414575017 140735864525376 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 94490414591024 94490414592640 94490950189056 140735864527554 140735864527574 140735864527574 140735864528875 0\n",
			Stat{Pgrp: 4430, UTime: 3, STime: 1}},
		// comm holds spaces and numbers that would shift every field of a naive split.
		{"spaces in comm", statLine(7, "kamailio 1 2 3", 7, 10, 20), Stat{Pgrp: 7, UTime: 10, STime: 20}},
		// comm holds parentheses: it ends at the last ')'.
		{"parentheses in comm", statLine(8, "a) S 9 9 (b)", 77, 11, 22), Stat{Pgrp: 77, UTime: 11, STime: 22}},
		{"empty comm", statLine(9, "", 3, 0, 0), Stat{Pgrp: 3}},
	} {
		got, err := ParseStat([]byte(tc.line))
		if err != nil || got != tc.want {
			t.Errorf("%s: ParseStat = %+v, %v; want %+v", tc.name, got, err, tc.want)
		}
	}
}

func TestParseStatErrors(t *testing.T) {
	for _, line := range []string{
		"",
		"4432 cat R 4430 4430 2455 0 -1 4194304 97 0 0 0 3 1",           // no parentheses
		"x (cat) R 4430 4430 2455 0 -1 4194304 97 0 0 0 3 1 0 0",        // pid not a number
		"4432 (cat) R 4430 4430 2455 0 -1 4194304 97 0 0 0 3",           // stime missing
		"4432 (cat) R 4430 4430 2455 0 -1 4194304 97 0 0 0 x 1 0 0",     // utime not a number
		"4432 (cat) R 4430 4430 2455 0 -1 4194304 97 0 0 0 3 -1 0 0",    // stime negative
		"4432 (cat) R 4430 grp 2455 0 -1 4194304 97 0 0 0 3 1 0 0 20 0", // pgrp not a number
		"4432 )cat( R 4430 4430 2455 0 -1 4194304 97 0 0 0 3 1 0 0",     // ')' before '('
	} {
		if st, err := ParseStat([]byte(line)); err == nil {
			t.Errorf("ParseStat(%q) = %+v, want an error", line, st)
		}
	}
}

func TestStatCPU(t *testing.T) {
	for _, tc := range []struct {
		st   Stat
		want time.Duration
	}{
		{Stat{UTime: 150, STime: 7}, 1570 * time.Millisecond},
		{Stat{UTime: 1}, 10 * time.Millisecond},
		{Stat{}, 0},
	} {
		if got := tc.st.CPU(); got != tc.want {
			t.Errorf("%+v.CPU() = %v, want %v", tc.st, got, tc.want)
		}
	}
}

const ioSample = `rchar: 323934931
wchar: 323929600
syscr: 632687
syscw: 632675
read_bytes: 0
write_bytes: 323932160
cancelled_write_bytes: 0
`

func TestParseIO(t *testing.T) {
	got, err := ParseIO([]byte(ioSample))
	if err != nil || got != (IO{SysCR: 632687, SysCW: 632675}) {
		t.Fatalf("ParseIO = %+v, %v", got, err)
	}
	for _, bad := range []string{
		"",
		strings.Replace(ioSample, "syscw: 632675\n", "", 1),                          // syscw missing
		strings.Replace(ioSample, "syscw: 632675\n", "syscr: 5\n", 1),                // syscr twice, syscw missing
		strings.Replace(ioSample, "syscr: 632687", "syscr: many", 1),                 // not a number
		strings.Replace(ioSample, "syscr: 632687", "syscr: -3", 1),                   // negative
		strings.Replace(ioSample, "syscw: 632675", "syscw: 99999999999999999999", 1), // overflows
	} {
		if c, err := ParseIO([]byte(bad)); err == nil {
			t.Errorf("ParseIO(%q) = %+v, want an error", bad, c)
		}
	}
}

func TestUsageArithmetic(t *testing.T) {
	a := Usage{CPU: 5 * time.Millisecond, Syscalls: 70}
	b := Usage{CPU: 2 * time.Millisecond, Syscalls: 20}
	if got := a.Sub(b); got != (Usage{3 * time.Millisecond, 50}) {
		t.Fatalf("Sub = %+v", got)
	}
	if got := a.Add(b); got != (Usage{7 * time.Millisecond, 90}) {
		t.Fatalf("Add = %+v", got)
	}
	cpu, sys := a.Sub(b).PerMessage(100)
	if cpu != 30 || sys != 0.5 {
		t.Fatalf("PerMessage(100) = %v µs, %v syscalls; want 30, 0.5", cpu, sys)
	}
	if cpu, sys := a.PerMessage(0); cpu != 0 || sys != 0 {
		t.Fatalf("PerMessage(0) = %v, %v; want 0, 0", cpu, sys)
	}
}

// ReadUsage of this very process sees the system calls it makes and the CPU it burns.
func TestReadUsageSelf(t *testing.T) {
	pid := os.Getpid()
	st, err := ReadStat(pid)
	if err != nil {
		t.Fatal(err)
	}
	if st.Pgrp != syscall.Getpgrp() {
		t.Fatalf("Pgrp = %d, want %d", st.Pgrp, syscall.Getpgrp())
	}
	u0, err := ReadUsage(pid)
	if err != nil {
		t.Fatal(err)
	}
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	buf := make([]byte, 16)
	const n = 100
	for range n {
		if _, err := null.Write(buf); err != nil {
			t.Fatal(err)
		}
		if _, err := null.Read(buf); err == nil {
			t.Fatal("read from /dev/null returned data")
		}
	}
	u1, err := ReadUsage(pid)
	if err != nil {
		t.Fatal(err)
	}
	// Each Write is one write(2) and each Read one read(2); other goroutines may add more.
	if d := u1.Sub(u0).Syscalls; d < 2*n {
		t.Fatalf("%d reads and %d writes counted as %d system calls", n, n, d)
	}
	// Burn CPU until the kernel's count of it moves on: it does, by whole ticks.
	x := 0
	for u := u1; u.CPU == u1.CPU; {
		for i := range 1 << 16 {
			x += i
		}
		if u, err = ReadUsage(pid); err != nil {
			t.Fatal(err)
		}
		if u.CPU < u1.CPU {
			t.Fatalf("CPU went back from %v to %v", u1.CPU, u.CPU)
		}
		if u.CPU%(time.Second/ClockTicks) != 0 {
			t.Fatalf("CPU %v is not a whole number of ticks", u.CPU)
		}
	}
	_ = x
}

// A child in a process group of its own: the group holds it alone, its usage is read, and
// once it has exited the group is empty.
func TestReadGroupUsage(t *testing.T) {
	cmd := exec.Command("cat")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	defer func() {
		stdin.Close()
		cmd.Wait()
	}()
	pids, err := GroupPIDs(pid)
	if err != nil || !slices.Equal(pids, []int{pid}) {
		t.Fatalf("GroupPIDs(%d) = %v, %v; want just the child", pid, pids, err)
	}
	if _, err := ReadGroupUsage(pid); err != nil {
		t.Fatalf("ReadGroupUsage: %v", err)
	}
	self, err := GroupPIDs(syscall.Getpgrp())
	if err != nil || !slices.Contains(self, os.Getpid()) || slices.Contains(self, pid) {
		t.Fatalf("GroupPIDs(own group) = %v, %v: want this process and not the child", self, err)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if u, err := ReadGroupUsage(pid); err == nil {
		t.Fatalf("ReadGroupUsage of an ended group = %+v, want an error", u)
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add(statLine(1, "init", 1, 5, 6))
	f.Add(statLine(2, "a) (b", 3, 4, 5))
	f.Add("4432 (cat) R 4430 4430 2455 0 -1 4194304 97 0 0 0 3 1 0 0")
	f.Add("")
	f.Add("1 (")
	f.Fuzz(func(t *testing.T, line string) {
		st, err := ParseStat([]byte(line))
		if err != nil {
			return
		}
		if st.Pgrp < 0 && !strings.Contains(line, "-") {
			t.Fatalf("negative pgrp %d from %q", st.Pgrp, line)
		}
	})
}

// Whatever the command name, the fields after it come back as they were written.
func FuzzParseStatComm(f *testing.F) {
	f.Add("simplegw", 10, uint64(1), uint64(2))
	f.Add("a b) c (d", 0, uint64(1<<40), uint64(0))
	f.Add(")", 99999, uint64(7), uint64(8))
	f.Fuzz(func(t *testing.T, comm string, pgrp int, utime, stime uint64) {
		if strings.ContainsAny(comm, "\n") || pgrp < 0 {
			return // the kernel writes neither
		}
		want := Stat{Pgrp: pgrp, UTime: utime, STime: stime}
		got, err := ParseStat([]byte(statLine(42, comm, pgrp, utime, stime)))
		if err != nil || got != want {
			t.Fatalf("comm %q: ParseStat = %+v, %v; want %+v", comm, got, err, want)
		}
	})
}

func FuzzParseIO(f *testing.F) {
	f.Add(ioSample)
	f.Add("syscr: 1\nsyscw: 2")
	f.Add("syscr:\nsyscw: 2")
	f.Fuzz(func(t *testing.T, text string) {
		c, err := ParseIO([]byte(text))
		if err == nil && (c.SysCR < 0 || c.SysCW < 0) {
			t.Fatalf("negative counts %+v from %q", c, text)
		}
	})
}
