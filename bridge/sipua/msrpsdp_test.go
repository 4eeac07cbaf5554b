package sipua

import (
	"errors"
	"strings"
	"testing"

	"github.com/simplegw/simplegw/bridge/msrp"
	"github.com/simplegw/simplegw/bridge/sdp"
)

func mustURI(t testing.TB, s string) msrp.URI {
	t.Helper()
	u, err := msrp.ParseURI(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// crlf turns a readable SDP into wire form.
func crlf(s string) []byte {
	return []byte(strings.ReplaceAll(strings.TrimLeft(s, "\n"), "\n", "\r\n"))
}

// RFC 4975 §8.7, Figure 9: endpoint A's offer, without a=setup (an RFC 4975-only peer).
const rfc4975Offer = `
v=0
o=usera 2890844526 2890844527 IN IP4 alice.example.com
s= -
c=IN IP4 alice.example.com
t=0 0
m=message 7394 TCP/MSRP *
a=accept-types:message/cpim text/plain text/html
a=path:msrp://alice.example.com:7394/2s93i93idj;tcp
`

func TestMSRPOfferParsesBack(t *testing.T) {
	local := MSRPLocal{Path: mustURI(t, "msrps://127.0.0.1:2856/abc123;tcp"), MaxSize: 1000}
	offer := MSRPOffer(local)
	media, err := sdp.Check(offer, true)
	if err != nil {
		t.Fatalf("our offer fails the check: %v\n%s", err, offer)
	}
	if len(media) != 1 {
		t.Fatalf("media %v", media)
	}
	m := media[0]
	if m.Proto != "TCP/TLS/MSRP" || m.Port != 2856 || m.Setup != SetupActpass || m.MaxSize != 1000 ||
		strings.Join(m.AcceptTypes, " ") != "message/cpim text/plain *" || len(m.Path) != 1 || m.Path[0].SessionID != "abc123" {
		t.Errorf("offer read back as %+v\n%s", m, offer)
	}
	if !strings.Contains(string(offer), "c=IN IP4 127.0.0.1\r\n") {
		t.Errorf("c= line should name the path's host (RFC 4975 §8.1):\n%s", offer)
	}
	v6 := MSRPOffer(MSRPLocal{Path: mustURI(t, "msrp://[::1]:2855/x;tcp")})
	if _, err := sdp.Check(v6, true); err != nil || !strings.Contains(string(v6), "c=IN IP6 ::1\r\n") {
		t.Errorf("IPv6 offer (%v):\n%s", err, v6)
	}
}

// Who connects (RFC 4975 §5.4 and §8.5, RFC 6135 §4.2.2), as answerer.
func TestAnswerMSRPRoles(t *testing.T) {
	local := MSRPLocal{Path: mustURI(t, "msrp://127.0.0.1:9000/bobsess;tcp")}
	withSetup := func(setup, path string) []byte {
		s := strings.Replace(rfc4975Offer, "a=path:msrp://alice.example.com:7394/2s93i93idj;tcp", "a=path:"+path, 1)
		if setup != "" {
			s += "a=setup:" + setup + "\n"
		}
		return crlf(s)
	}
	tcpPath := "msrp://alice.example.com:7394/2s93i93idj;tcp"
	wsPath := "msrp://gw.example:2855/relay1;tcp msrp://x1.invalid:2855/b1;ws"
	cases := []struct {
		setup, path  string
		preferActive bool
		wantActive   bool
		wantSetup    string
	}{
		{"", tcpPath, false, false, "passive"},        // RFC 4975: the offerer connects
		{"", tcpPath, true, false, "passive"},         // …whatever we would prefer
		{"active", tcpPath, true, false, "passive"},   // the offerer connects
		{"actpass", tcpPath, false, false, "passive"}, // our default
		{"actpass", tcpPath, true, true, "active"},    // --setup active
		{"actpass", wsPath, true, true, "active"},     // first hop is a relay on TCP: dialable
		{"passive", tcpPath, false, true, "active"},   // forbidden in offers, but plain
		{"holdconn", tcpPath, true, false, "passive"}, // ignored (RFC 6135 §4.2.1)
	}
	for _, tc := range cases {
		answer, remote, active, err := AnswerMSRP(withSetup(tc.setup, tc.path), local, tc.preferActive)
		if err != nil {
			t.Errorf("setup %q: %v", tc.setup, err)
			continue
		}
		if active != tc.wantActive || !strings.Contains(string(answer), "a=setup:"+tc.wantSetup+"\r\n") {
			t.Errorf("setup %q prefer %v: active %v, answer:\n%s", tc.setup, tc.preferActive, active, answer)
		}
		if msrp.FormatPath(remote.Path) != tc.path {
			t.Errorf("remote path %q, want %q", msrp.FormatPath(remote.Path), tc.path)
		}
		if _, err := sdp.Check(answer, false); err != nil {
			t.Errorf("our answer fails the check: %v", err)
		}
	}
	// A browser behind no relay offers a WebSocket URI only: it cannot be dialled.
	only := "msrp://x1.invalid:2855/b1;ws"
	if _, _, active, err := AnswerMSRP(withSetup("actpass", only), local, true); err != nil || active {
		t.Errorf("actpass with a ws path: active %v, %v; want passive", active, err)
	}
	_, _, _, err := AnswerMSRP(withSetup("passive", only), local, false)
	var se *sdp.Error
	if !errors.As(err, &se) || se.Code != 488 {
		t.Errorf("passive with a ws path: %v, want 488", err)
	}
}

// RFC 3264 §6: an answer has one m= line per offered one; streams other than the
// first MSRP one are refused with port 0. Legacy WebSocket protos are tolerated.
func TestAnswerMSRPMediaLines(t *testing.T) {
	offer := crlf(`
v=0
o=- 1 1 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio 49170 RTP/AVP 0 8
m=message 9 TCP/WSS/MSRP *
a=accept-types:text/plain
a=path:msrp://gw.example:2856/r1;tcp msrp://df7jal23ls0d.invalid:2855/2s93i93idj;ws
a=setup:actpass
m=message 9 TCP/MSRP *
a=accept-types:text/plain
a=path:msrp://10.0.0.1:9/second;tcp
`)
	local := MSRPLocal{Path: mustURI(t, "msrp://127.0.0.1:9000/bobsess;tcp")}
	answer, remote, _, err := AnswerMSRP(offer, local, false)
	if err != nil {
		t.Fatal(err)
	}
	lines := mediaLines(answer)
	want := []string{"m=audio 0 RTP/AVP 0 8", "m=message 9000 TCP/MSRP *", "m=message 0 TCP/MSRP *"}
	if strings.Join(lines, "|") != strings.Join(want, "|") {
		t.Errorf("answer m= lines %q, want %q", lines, want)
	}
	if remote.Proto != "TCP/WSS/MSRP" || len(remote.Path) != 2 || remote.Path[1].SessionID != "2s93i93idj" {
		t.Errorf("remote %+v", remote)
	}
}

func TestAnswerMSRPRefusals(t *testing.T) {
	local := MSRPLocal{Path: mustURI(t, "msrp://127.0.0.1:9000/bobsess;tcp")}
	cases := []struct {
		name, offer string
		code        int
		reason      string
	}{
		{"not SDP", "hello", 400, "malformed"},
		{"no MSRP", "v=0\no=- 1 1 IN IP4 h\ns=-\nc=IN IP4 h\nt=0 0\nm=audio 1 RTP/AVP 0\n", 488, "no MSRP stream"},
		{"refused stream", "v=0\no=- 1 1 IN IP4 h\ns=-\nt=0 0\nm=message 0 TCP/MSRP *\n", 488, "no MSRP stream"},
		{"no path", "v=0\no=- 1 1 IN IP4 h\ns=-\nt=0 0\nm=message 1 TCP/MSRP *\na=accept-types:*\n", 488, "a=path"},
		// Lines end with CRLF or LF; a lone CR is malformed (and package sdp cannot
		// take it, see check).
		{"lone CR", "v= o= 0 0 IN\rs=0\nt=\rm=message 0 MSRP", 400, "CR without LF"},
		{"bad proto", "v=0\no=- 1 1 IN IP4 h\ns=-\nt=0 0\nm=message 1 UDP/MSRP *\na=accept-types:*\na=path:msrp://h:1/s;tcp\n", 488, "proto"},
	}
	for _, tc := range cases {
		_, _, _, err := AnswerMSRP(crlf(tc.offer), local, false)
		var se *sdp.Error
		if !errors.As(err, &se) || se.Code != tc.code || !strings.Contains(se.Reason, tc.reason) {
			t.Errorf("%s: %v, want %d mentioning %q", tc.name, err, tc.code, tc.reason)
		}
	}
}

func TestReadMSRPAnswer(t *testing.T) {
	// RFC 4975 §8.7, Figure 10: B's answer, no a=setup: the offerer connects.
	answer := crlf(`
v=0
o=userb 2890844530 2890844532 IN IP4 bob.example.com
s= -
c=IN IP4 bob.example.com
t=0 0
m=message 8493 TCP/MSRP *
a=accept-types:message/cpim text/plain
a=path:msrp://bob.example.com:8493/si438dsaodes;tcp
`)
	remote, active, err := ReadMSRPAnswer(answer)
	if err != nil || !active || remote.Path[0].String() != "msrp://bob.example.com:8493/si438dsaodes;tcp" {
		t.Fatalf("%+v %v %v", remote, active, err)
	}
	if remote.Accepts("image/png") || !remote.Accepts("text/plain; charset=utf-8") || !remote.Accepts("Message/CPIM") {
		t.Errorf("accept-types %v judged wrongly", remote.AcceptTypes)
	}
	act := append(append([]byte{}, answer...), "a=setup:active\r\n"...)
	if _, active, err := ReadMSRPAnswer(act); err != nil || active {
		t.Errorf("a=setup:active: active %v, %v; want the peer to connect", active, err)
	}
	refused := crlf("v=0\no=- 1 1 IN IP4 h\ns=-\nt=0 0\nm=message 0 TCP/MSRP *\n")
	if _, _, err := ReadMSRPAnswer(refused); err == nil || !strings.Contains(err.Error(), "refuses") {
		t.Errorf("refused stream: %v", err)
	}
	wsOnly := crlf("v=0\no=- 1 1 IN IP4 h\ns=-\nt=0 0\nm=message 9 TCP/TLS/MSRP *\na=accept-types:*\na=path:msrp://a.invalid:9/s;ws\na=setup:passive\n")
	if _, _, err := ReadMSRPAnswer(wsOnly); err == nil || !strings.Contains(err.Error(), "WebSocket") {
		t.Errorf("ws-only passive answer: %v", err)
	}
}

func TestAccepts(t *testing.T) {
	r := &MSRPRemote{AcceptTypes: []string{"message/cpim", "text/*", "application/json;charset=utf-8"}}
	for ct, want := range map[string]bool{
		"message/cpim": true, "text/html": true, "application/json": true, "application/JSON; x=1": true,
		"image/png": false, "not a type": false, "": false,
	} {
		if got := r.Accepts(ct); got != want {
			t.Errorf("Accepts(%q) = %v, want %v", ct, got, want)
		}
	}
	if !(&MSRPRemote{AcceptTypes: []string{"*"}}).Accepts("image/png") {
		t.Error("* accepts everything")
	}
}

// FuzzAnswerMSRP: any offer gets an answer that passes the check, or an *sdp.Error;
// never a panic.
func FuzzAnswerMSRP(f *testing.F) {
	f.Add([]byte(crlf(rfc4975Offer)))
	f.Add([]byte(crlf(rfc4975Offer + "a=setup:passive\n")))
	f.Add([]byte("v=0\r\nm=audio 1 RTP/AVP 0\r\nm=message 2 TCP/WS/MSRP\r\na=accept-types:*\r\na=path:msrp://[::1]:2/s;tcp\r\n"))
	f.Add([]byte("m=message 1 TCP/MSRP *\na=path:msrp://u@h:1/s;tcp;x=y\na=accept-types:text/plain"))
	local := MSRPLocal{Path: mustURI(f, "msrp://127.0.0.1:9000/bobsess;tcp")}
	f.Fuzz(func(t *testing.T, offer []byte) {
		answer, remote, _, err := AnswerMSRP(offer, local, true)
		if err != nil {
			var se *sdp.Error
			if !errors.As(err, &se) {
				t.Fatalf("error %v is not an *sdp.Error", err)
			}
			return
		}
		if len(remote.Path) == 0 {
			t.Fatal("accepted an offer without a path")
		}
		if _, err := sdp.Check(answer, false); err != nil {
			t.Fatalf("answer fails the check: %v\noffer %q\nanswer %q", err, offer, answer)
		}
	})
}
