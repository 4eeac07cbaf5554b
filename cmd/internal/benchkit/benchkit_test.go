package benchkit

import (
	"strings"
	"testing"
)

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{{[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5}, {[]float64{7}, 7}, {nil, 0}} {
		if got := Median(tc.in); got != tc.want {
			t.Errorf("Median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestParseInts(t *testing.T) {
	got, err := ParseInts("1, 8,32")
	if err != nil || len(got) != 3 || got[0] != 1 || got[1] != 8 || got[2] != 32 {
		t.Fatalf("ParseInts = %v, %v", got, err)
	}
	for _, bad := range []string{"", "x", "0", "-1", "1,,2"} {
		if _, err := ParseInts(bad); err == nil {
			t.Errorf("ParseInts(%q) accepted", bad)
		}
	}
}

func TestReadReady(t *testing.T) {
	fields, err := ReadReady(strings.NewReader("log line\nsimplegw ready http=127.0.0.1:1 sip=127.0.0.1:2\nmore\n"), "simplegw ready")
	if err != nil || fields["http"] != "127.0.0.1:1" || fields["sip"] != "127.0.0.1:2" {
		t.Fatalf("ReadReady = %v, %v", fields, err)
	}
	if _, err := ReadReady(strings.NewReader("no ready line\n"), "simplegw ready"); err == nil {
		t.Fatal("a child that exits without its ready line is not an error")
	}
}

func TestTail(t *testing.T) {
	tl := &Tail{Max: 4}
	tl.Write([]byte("abc"))
	tl.Write([]byte("defg"))
	if got := tl.String(); got != "defg" {
		t.Fatalf("Tail = %q, want the last 4 bytes", got)
	}
}
