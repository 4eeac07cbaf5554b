package sipua

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Errors of client transactions.
var (
	// ErrTimeout means no final response came within 64*T1 (RFC 3261 §17.1.1.2 Timer B,
	// §17.1.2.2 Timer F); the UA core treats it as a 408 (§8.1.3.1).
	ErrTimeout = errors.New("sipua: no final response (transaction timeout)")
	// ErrClosed is returned once the UA is closed or its connection is lost.
	ErrClosed = errors.New("sipua: user agent closed")
)

// maxProvisional bounds the provisional responses queued for a consumer that does not
// read them; more are dropped (the final response is always kept).
const maxProvisional = 16

// clientTx is a client transaction (RFC 3261 §17.1).
//
// Concurrency: the fields after mu are guarded by it. The reading goroutine calls
// receive; the consumer calls next; timers run on their own goroutines.
type clientTx struct {
	ua     *UA
	key    string
	req    *sip.Request
	data   []byte
	invite bool

	mu       sync.Mutex
	interval time.Duration // current retransmission interval (UDP)
	retrans  *time.Timer   // Timer A or E
	timeout  *time.Timer   // Timer B or F
	queue    []*sip.Response
	final    *sip.Response
	err      error
	ack      []byte // the ACK repeated when the final response is retransmitted
	forks    map[string]bool
	wake     chan struct{} // capacity 1: poked when queue or err changes
	// onFork handles a 2xx from another fork (a To tag other than the first 2xx's);
	// called on a new goroutine.
	onFork func(*sip.Response)
}

// clientKey matches a response to its client transaction: the branch of the top Via
// and the CSeq method (RFC 3261 §17.1.3).
func clientKey(branch string, method sip.RequestMethod) string {
	return branch + "|" + string(method)
}

// start sends req as a new client transaction.
func (ua *UA) start(req *sip.Request) (*clientTx, error) {
	via := req.Via()
	if via == nil {
		return nil, errors.New("sipua: request without Via")
	}
	branch, _ := via.Params.Get("branch")
	tx := &clientTx{ua: ua, key: clientKey(branch, req.Method), req: req, data: []byte(req.String()),
		invite: req.IsInvite(), wake: make(chan struct{}, 1)}
	ua.mu.Lock()
	if ua.closed {
		ua.mu.Unlock()
		return nil, ErrClosed
	}
	ua.clients[tx.key] = tx
	ua.mu.Unlock()

	tx.mu.Lock()
	defer tx.mu.Unlock()
	if err := ua.tp.send(tx.data, nil); err != nil {
		ua.removeClient(tx)
		return nil, fmt.Errorf("sipua: send %s: %w", req.Method, err)
	}
	if !ua.reliable() {
		tx.interval = ua.t1
		tx.retrans = time.AfterFunc(tx.interval, tx.retransmit)
	}
	tx.timeout = time.AfterFunc(64*ua.t1, func() { tx.fail(ErrTimeout) })
	return tx, nil
}

// retransmit resends the request (Timer A doubles without bound for INVITE, §17.1.1.2;
// Timer E doubles up to T2, §17.1.2.2).
func (tx *clientTx) retransmit() {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if tx.final != nil || tx.err != nil || tx.retrans == nil {
		return
	}
	if err := tx.ua.tp.send(tx.data, nil); err != nil {
		tx.failLocked(fmt.Errorf("sipua: resend %s: %w", tx.req.Method, err))
		return
	}
	tx.interval *= 2
	if !tx.invite {
		tx.interval = min(tx.interval, tx.ua.t2)
	}
	tx.retrans.Reset(tx.interval)
}

func (tx *clientTx) fail(err error) {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	tx.failLocked(err)
}

func (tx *clientTx) failLocked(err error) {
	if tx.final != nil || tx.err != nil {
		return
	}
	tx.err = err
	tx.stopLocked()
	tx.ua.removeClient(tx)
	tx.poke()
}

func (tx *clientTx) stopLocked() {
	if tx.retrans != nil {
		tx.retrans.Stop()
		tx.retrans = nil
	}
	if tx.timeout != nil {
		tx.timeout.Stop()
		tx.timeout = nil
	}
}

func (tx *clientTx) poke() {
	select {
	case tx.wake <- struct{}{}:
	default:
	}
}

// receive handles a response matched to the transaction, on the reading goroutine.
func (tx *clientTx) receive(res *sip.Response) {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if tx.err != nil {
		return
	}
	if tx.final != nil {
		// A retransmitted final response, or a 2xx from another fork.
		if !tx.invite {
			return
		}
		if res.IsSuccess() && tx.final.IsSuccess() && toTag(res) != toTag(tx.final) {
			tag := toTag(res)
			if tx.forks == nil {
				tx.forks = map[string]bool{}
			}
			if !tx.forks[tag] && tx.onFork != nil && len(tx.forks) < maxProvisional {
				tx.forks[tag] = true
				go tx.onFork(res)
			}
			return
		}
		if tx.ack != nil {
			tx.ua.tp.send(tx.ack, nil) // RFC 3261 §17.1.1.2, §13.2.2.4
		}
		return
	}
	if res.StatusCode < 200 {
		if tx.invite {
			// Proceeding: no more retransmissions (§17.1.1.2).
			if tx.retrans != nil {
				tx.retrans.Stop()
				tx.retrans = nil
			}
		} else if tx.retrans != nil {
			tx.interval = tx.ua.t2 // §17.1.2.2: retransmit every T2 in Proceeding
		}
		if len(tx.queue) < maxProvisional {
			tx.queue = append(tx.queue, res)
		}
		tx.poke()
		return
	}
	tx.final = res
	tx.stopLocked()
	tx.queue = append(tx.queue, res)
	switch {
	case tx.invite && !res.IsSuccess():
		// §17.1.1.3: the transaction acknowledges a non-2xx final response itself, and
		// again for each retransmission during Timer D (32 s on UDP, 0 on streams).
		tx.ack = []byte(newAckNon2xx(tx.req, res).String())
		tx.ua.tp.send(tx.ack, nil)
		tx.linger(32 * time.Second)
	case tx.invite:
		// The 2xx ends the transaction; the dialog's ACK is set by setAck. Stay matched
		// for 64*T1 to acknowledge retransmissions and spot other forks (§13.2.2.4).
		tx.linger(64 * tx.ua.t1)
	default:
		tx.ua.removeClient(tx)
	}
	tx.poke()
}

// linger keeps the transaction matched for d on unreliable transports (0 on streams,
// except after a 2xx to INVITE, whose retransmissions are end to end).
func (tx *clientTx) linger(d time.Duration) {
	if tx.ua.reliable() && !tx.final.IsSuccess() {
		tx.ua.removeClient(tx)
		return
	}
	time.AfterFunc(d, func() { tx.ua.removeClient(tx) })
}

// setAck records the ACK of a 2xx, resent for each retransmission of that 2xx.
func (tx *clientTx) setAck(b []byte) {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	tx.ack = b
}

// next returns the next response in order, or the transaction's error. It returns
// ok=false when nothing is queued yet; wait on tx.wake then.
func (tx *clientTx) next() (res *sip.Response, err error, ok bool) {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if len(tx.queue) > 0 {
		res = tx.queue[0]
		tx.queue = tx.queue[1:]
		return res, nil, true
	}
	if tx.err != nil {
		return nil, tx.err, true
	}
	return nil, nil, false
}

// wait returns the final response, passing provisional ones to onProvisional.
func (tx *clientTx) wait(onProvisional func(*sip.Response)) (*sip.Response, error) {
	for {
		res, err, ok := tx.next()
		if !ok {
			select {
			case <-tx.wake:
			case <-tx.ua.done:
				return nil, ErrClosed
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		if res.StatusCode >= 200 {
			return res, nil
		}
		if onProvisional != nil {
			onProvisional(res)
		}
	}
}

func (ua *UA) removeClient(tx *clientTx) {
	ua.mu.Lock()
	defer ua.mu.Unlock()
	if ua.clients[tx.key] == tx {
		delete(ua.clients, tx.key)
	}
}

// newAckNon2xx builds the ACK of a non-2xx final response (RFC 3261 §17.1.1.3): the
// Request-URI, Call-ID, From, CSeq number and Route of the INVITE, its top Via only, and
// the To of the response.
func newAckNon2xx(inv *sip.Request, res *sip.Response) *sip.Request {
	ack := sip.NewRequest(sip.ACK, *inv.Recipient.Clone())
	ack.AppendHeader(inv.Via().Clone())
	for _, h := range inv.GetHeaders("Route") {
		ack.AppendHeader(sip.HeaderClone(h))
	}
	mf := sip.MaxForwardsHeader(70)
	ack.AppendHeader(&mf)
	ack.AppendHeader(sip.HeaderClone(inv.From()))
	ack.AppendHeader(sip.HeaderClone(res.To()))
	ack.AppendHeader(sip.HeaderClone(inv.CallID()))
	ack.AppendHeader(&sip.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sip.ACK})
	ack.SetBody(nil)
	return ack
}

// serverTx is a server transaction (RFC 3261 §17.2): it answers retransmitted requests
// with the last response and, for INVITE over UDP, retransmits a non-2xx final response
// until the ACK (Timer G, bounded by Timer H).
//
// Concurrency: the fields after mu are guarded by it.
type serverTx struct {
	ua  *UA
	key string
	req *sip.Request
	src net.Addr // where responses go: the request's source (§18.2.2)

	mu       sync.Mutex
	last     []byte // last response sent
	code     int    // its status; 0 before any
	toTag    string // the tag this UAS puts in To (INVITE)
	interval time.Duration
	retrans  *time.Timer // Timer G
	acked    bool
	onCancel func() // INVITE: called once when a CANCEL ends it with 487
}

// serverKey matches a request to a server transaction (RFC 3261 §17.2.3): the branch,
// the sent-by of the top Via and the method, ACK counting as INVITE. A branch without
// the magic cookie (RFC 2543) falls back on Call-ID, CSeq number, From tag and sent-by.
func serverKey(req *sip.Request, method sip.RequestMethod) string {
	via := req.Via()
	branch, _ := via.Params.Get("branch")
	if method == sip.ACK {
		method = sip.INVITE
	}
	if strings.HasPrefix(branch, "z9hG4bK") {
		return branch + "|" + strings.ToLower(via.SentBy()) + "|" + string(method)
	}
	return "2543|" + req.CallID().Value() + "|" + strconv.FormatUint(uint64(req.CSeq().SeqNo), 10) + "|" +
		fromTag(req) + "|" + strings.ToLower(via.SentBy()) + "|" + string(method)
}

// respond sends res and records it for retransmitted requests. A final response ends
// the transaction after 64*T1 (Timer J for non-INVITE on UDP; for INVITE the time
// retransmissions and a late CANCEL may still arrive).
func (tx *serverTx) respond(res *sip.Response) error {
	b := []byte(res.String())
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if tx.code >= 200 {
		return errFinalSent
	}
	tx.last, tx.code = b, res.StatusCode
	err := tx.ua.tp.send(b, tx.src)
	if res.StatusCode < 200 {
		return err
	}
	if tx.req.IsInvite() && res.StatusCode >= 300 && !tx.ua.reliable() {
		tx.interval = tx.ua.t1
		tx.retrans = time.AfterFunc(tx.interval, tx.retransmit)
	}
	time.AfterFunc(64*tx.ua.t1, tx.end)
	return err
}

var errFinalSent = errors.New("sipua: a final response was sent already")

// retransmit resends a non-2xx final response to INVITE until the ACK (Timer G, from T1
// doubling up to T2, §17.2.1).
func (tx *serverTx) retransmit() {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if tx.acked || tx.retrans == nil {
		return
	}
	tx.ua.tp.send(tx.last, tx.src)
	tx.interval = min(2*tx.interval, tx.ua.t2)
	tx.retrans.Reset(tx.interval)
}

// retransmitted answers a retransmission of the request with the last response.
func (tx *serverTx) retransmitted() {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if tx.last != nil {
		tx.ua.tp.send(tx.last, tx.src)
	}
}

// ack stops Timer G: the ACK of a non-2xx final response arrived.
func (tx *serverTx) ack() {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	tx.acked = true
	if tx.retrans != nil {
		tx.retrans.Stop()
		tx.retrans = nil
	}
}

func (tx *serverTx) end() {
	tx.mu.Lock()
	if tx.retrans != nil {
		tx.retrans.Stop()
		tx.retrans = nil
	}
	tx.mu.Unlock()
	tx.ua.mu.Lock()
	if tx.ua.servers[tx.key] == tx {
		delete(tx.ua.servers, tx.key)
	}
	tx.ua.mu.Unlock()
}
