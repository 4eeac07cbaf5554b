package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Transaction timers of the load client (RFC 3261 §17.1.2.2): on UDP a
// request is retransmitted after T1, then at doubling intervals capped at
// T2. A transaction without a final response after lostAfter is counted as
// lost and its window slot freed (shorter than Timer F's 64*T1: a benchmark
// row must not stall for half a minute).
const (
	timerT1   = 500 * time.Millisecond
	timerT2   = 4 * time.Second
	lostAfter = 5 * time.Second
	// sweepEvery is how often retransmissions and losses are checked.
	sweepEvery = 50 * time.Millisecond
)

// loadConfig is one run of the load client.
type loadConfig struct {
	transport string   // "udp" or "tcp"
	addr      string   // host:port the MESSAGEs are sent to
	users     []string // user parts of the target AORs at domain, used in turn
	window    int      // outstanding transactions
	size      int      // body bytes
	duration  time.Duration
	count     int           // at most this many transactions, warm-up included
	lostAfter time.Duration // 0 means the default lostAfter
}

// loadResult is what one run measured.
type loadResult struct {
	completed       int             // 2xx received in the measured window
	elapsed         time.Duration   // length of the measured window
	latencies       []time.Duration // of those 2xx, sorted
	answered        int             // 2xx received over the whole run
	lost            int             // non-2xx final responses and transactions never answered
	retransmissions int             // UDP retransmissions sent
}

func (r loadResult) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.completed) / r.elapsed.Seconds()
}

// percentile returns the latency below which the fraction p of the
// measured transactions completed (nearest rank), or 0 without any.
func (r loadResult) percentile(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	i := int(p*float64(len(r.latencies))+0.5) - 1
	i = max(0, min(i, len(r.latencies)-1))
	return r.latencies[i]
}

// pendingTx is a client transaction waiting for its final response.
type pendingTx struct {
	msg      []byte
	first    time.Time // first transmission: latency is measured from here
	next     time.Time // next retransmission (UDP)
	interval time.Duration
}

// Measuring phases of a run.
const (
	phaseWarmUp = iota
	phaseMeasure
	phaseDone
)

// load is one running load client.
//
// Concurrency: the sender goroutine writes requests, the receiver reads
// responses, the sweeper retransmits and expires; mu guards the fields
// below it. slots holds one token per outstanding transaction: the sender
// puts one in before sending, whoever ends the transaction takes one out.
type load struct {
	cfg   loadConfig
	conn  net.Conn
	runID string
	slots chan struct{}

	mu         sync.Mutex
	pending    map[string]*pendingTx // by Call-ID
	phase      int
	senderDone bool
	drained    chan struct{} // closed once the sender is done and nothing is pending
	drainOnce  sync.Once
	res        loadResult
}

// runLoad sends MESSAGEs to cfg.addr until cfg.count were sent or the
// measured window (cfg.duration after a warm-up of a quarter of it) ended,
// then waits for the outstanding ones (at most lostAfter).
func runLoad(ctx context.Context, cfg loadConfig) (loadResult, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	conn, err := d.DialContext(ctx, cfg.transport, cfg.addr)
	if err != nil {
		return loadResult{}, err
	}
	defer conn.Close()
	if cfg.lostAfter <= 0 {
		cfg.lostAfter = lostAfter
	}
	if uc, ok := conn.(*net.UDPConn); ok {
		uc.SetReadBuffer(4 << 20)
		uc.SetWriteBuffer(4 << 20)
	}
	var id [6]byte
	rand.Read(id[:])
	l := &load{
		cfg:     cfg,
		conn:    conn,
		runID:   hex.EncodeToString(id[:]),
		slots:   make(chan struct{}, cfg.window),
		pending: make(map[string]*pendingTx, cfg.window),
		drained: make(chan struct{}),
	}

	recvErr := make(chan error, 1)
	go func() { recvErr <- l.receive() }()
	stop := make(chan struct{})
	sendErr := make(chan error, 1)
	go func() { sendErr <- l.send(stop) }()
	sweepStop := make(chan struct{})
	sweepDone := make(chan struct{})
	go func() { defer close(sweepDone); l.sweep(sweepStop) }()
	defer func() {
		close(sweepStop)
		<-sweepDone
	}()

	// Warm-up, then the measured window; either ends early when everything
	// was sent and answered, or when a goroutine failed.
	var failure error
	wait := func(d time.Duration) {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-l.drained:
		case failure = <-recvErr:
		case <-ctx.Done():
			failure = ctx.Err()
		}
	}
	wait(cfg.duration / 4)
	l.mu.Lock()
	l.phase = phaseMeasure
	t0 := time.Now()
	l.mu.Unlock()
	if failure == nil {
		wait(cfg.duration)
	}
	l.mu.Lock()
	l.phase = phaseDone
	l.res.elapsed = time.Since(t0)
	l.mu.Unlock()

	close(stop)
	if err := <-sendErr; err != nil && failure == nil {
		failure = err
	}
	if failure == nil {
		// Let the outstanding transactions end, so that the next run
		// starts on an idle gateway.
		t := time.NewTimer(cfg.lostAfter + time.Second)
		select {
		case <-l.drained:
		case failure = <-recvErr:
		case <-t.C:
		}
		t.Stop()
	}
	conn.Close()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.res.lost += len(l.pending)
	sort.Slice(l.res.latencies, func(i, j int) bool { return l.res.latencies[i] < l.res.latencies[j] })
	if failure != nil && !errors.Is(failure, net.ErrClosed) {
		return l.res, failure
	}
	if l.res.answered == 0 {
		return l.res, errors.New("no MESSAGE was answered with 2xx")
	}
	return l.res, nil
}

// send writes MESSAGE requests, one per free window slot, until stop is
// closed or cfg.count were sent.
func (l *load) send(stop <-chan struct{}) error {
	defer func() {
		l.mu.Lock()
		l.senderDone = true
		l.checkDrainedLocked()
		l.mu.Unlock()
	}()
	body := strings.Repeat("x", l.cfg.size)
	local := l.conn.LocalAddr().String()
	tp := strings.ToUpper(l.cfg.transport)
	rport := ""
	if tp == "UDP" {
		rport = ";rport" // RFC 3581
	}
	for i := 0; i < l.cfg.count; i++ {
		select {
		case l.slots <- struct{}{}:
		case <-stop:
			return nil
		}
		select {
		case <-stop:
			<-l.slots
			return nil
		default:
		}
		callID := fmt.Sprintf("%s-%d", l.runID, i)
		user := l.cfg.users[i%len(l.cfg.users)]
		msg := fmt.Appendf(nil, "MESSAGE sip:%s@%s SIP/2.0\r\n"+
			"Via: SIP/2.0/%s %s;branch=z9hG4bK%s%s\r\n"+
			"Max-Forwards: 70\r\n"+
			"From: <sip:sipbench@%s>;tag=%s\r\n"+
			"To: <sip:%s@%s>\r\n"+
			"Call-ID: %s\r\n"+
			"CSeq: 1 MESSAGE\r\n"+
			"Content-Type: text/plain\r\n"+
			"Content-Length: %d\r\n\r\n%s",
			user, domain, tp, local, callID, rport, local, l.runID, user, domain, callID, len(body), body)
		now := time.Now()
		l.mu.Lock()
		l.pending[callID] = &pendingTx{msg: msg, first: now, next: now.Add(timerT1), interval: timerT1}
		l.mu.Unlock()
		// A peer that stops reading must not hold the sender forever.
		l.conn.SetWriteDeadline(now.Add(l.cfg.lostAfter))
		if _, err := l.conn.Write(msg); err != nil {
			return fmt.Errorf("send: %w", err)
		}
	}
	return nil
}

// receive reads responses until the connection is closed.
func (l *load) receive() error {
	buf := make([]byte, 65536)
	if l.cfg.transport == "udp" {
		for {
			n, err := l.conn.Read(buf)
			if err != nil {
				return err
			}
			m, err := sip.ParseMessage(buf[:n])
			if err != nil {
				return fmt.Errorf("unparseable datagram: %w\n%s", err, buf[:n])
			}
			if err := l.handle(m); err != nil {
				return err
			}
		}
	}
	stream := sip.NewParser().NewSIPStream()
	var handleErr error
	for {
		n, err := l.conn.Read(buf)
		if err != nil {
			return err
		}
		perr := stream.ParseSIPStream(buf[:n], func(m sip.Message) {
			if handleErr == nil {
				handleErr = l.handle(m)
			}
		})
		if handleErr != nil {
			return handleErr
		}
		if perr != nil && !errors.Is(perr, sip.ErrParseSipPartial) {
			return fmt.Errorf("unparseable stream: %w", perr)
		}
	}
}

// handle ends the transaction a final response belongs to.
func (l *load) handle(m sip.Message) error {
	res, ok := m.(*sip.Response)
	if !ok {
		return fmt.Errorf("the load client received a request:\n%s", bytes.TrimSpace([]byte(m.String())))
	}
	if res.StatusCode < 200 {
		return nil
	}
	cid := res.CallID()
	if cid == nil {
		return fmt.Errorf("response without Call-ID:\n%s", res)
	}
	now := time.Now()
	l.mu.Lock()
	p := l.pending[cid.Value()]
	if p == nil {
		// A response to a retransmission, or after the transaction was
		// counted as lost.
		l.mu.Unlock()
		return nil
	}
	delete(l.pending, cid.Value())
	if res.StatusCode < 300 {
		l.res.answered++
		if l.phase == phaseMeasure {
			l.res.completed++
			l.res.latencies = append(l.res.latencies, now.Sub(p.first))
		}
	} else {
		l.res.lost++
	}
	l.checkDrainedLocked()
	l.mu.Unlock()
	<-l.slots
	return nil
}

// sweep retransmits UDP requests (Timer E) and gives up on transactions
// older than cfg.lostAfter, until stop is closed.
func (l *load) sweep(stop <-chan struct{}) {
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	var resend [][]byte
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		now := time.Now()
		resend = resend[:0]
		expired := 0
		l.mu.Lock()
		for cid, p := range l.pending {
			switch {
			case now.Sub(p.first) >= l.cfg.lostAfter:
				delete(l.pending, cid)
				l.res.lost++
				expired++
			case l.cfg.transport == "udp" && !now.Before(p.next):
				p.interval = min(2*p.interval, timerT2)
				p.next = now.Add(p.interval)
				l.res.retransmissions++
				resend = append(resend, p.msg)
			}
		}
		l.checkDrainedLocked()
		l.mu.Unlock()
		for range expired {
			<-l.slots
		}
		for _, m := range resend {
			l.conn.Write(m)
		}
	}
}

// checkDrainedLocked closes drained once the sender is done and nothing is
// pending. l.mu must be held.
func (l *load) checkDrainedLocked() {
	if l.senderDone && len(l.pending) == 0 {
		l.drainOnce.Do(func() { close(l.drained) })
	}
}
