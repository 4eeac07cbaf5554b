package sipedge

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/emiago/sipgo/sip"
)

// clientTxn is a client transaction of the edge (a forwarded request, a
// CANCEL, a NOTIFY) and the flow it runs on.
type clientTxn struct {
	tx   *sip.ClientTx
	flow *flow
	// gone is set when the flow failed under the transaction.
	gone atomic.Bool
}

// txHandlers receive what a client transaction produces. response gets each
// response passed up by the transaction, in arrival order, on the
// transaction's consumer goroutine; done is called last, once, with the
// transaction's error and whether its flow failed. retransmission gets 2xx
// retransmissions of an INVITE (RFC 6026 §8.4) on the reader goroutine.
type txHandlers struct {
	response       func(*sip.Response)
	done           func(err error, flowGone bool)
	retransmission func(*sip.Response)
}

// startClientTx sends req over f in a sipgo client transaction (RFC 3261
// §17.1): retransmissions on UDP, Timer B/F, ACK of non-2xx final responses.
//
// sipgo's ClientTx passes responses up on an unbuffered channel and waits for
// them to be taken; the consumer goroutine takes one, handles it fully, then
// takes the next. Since handleResponse calls ClientTx.Receive on the reader
// of the flow the responses arrive on, responses are handled in the order
// they arrived (the ordering sipgo's own transaction layer loses, issue
// #306).
func (e *Edge) startClientTx(req *sip.Request, f *flow, h txHandlers) (*clientTxn, error) {
	key, err := sip.ClientTxKeyMake(req)
	if err != nil {
		return nil, err
	}
	tx := sip.NewClientTx(key, req, f, e.log)
	c := &clientTxn{tx: tx, flow: f}
	e.txMu.Lock()
	if e.clientTx[key] != nil {
		e.txMu.Unlock()
		return nil, fmt.Errorf("client transaction %s exists", key)
	}
	e.clientTx[key] = c
	e.txMu.Unlock()
	tx.OnTerminate(func(k string, _ error) {
		e.txMu.Lock()
		if e.clientTx[k] == c {
			delete(e.clientTx, k)
		}
		e.txMu.Unlock()
	})
	if h.retransmission != nil {
		tx.OnRetransmission(h.retransmission)
	}
	// Each handler call is recovered on its own: a consumer that died would
	// leave the reader blocked in ClientTx.Receive at the next response.
	go func() {
		for {
			select {
			case res := <-tx.Responses():
				if h.response != nil {
					e.recovered("response handler", func() { h.response(res) })
				}
			case <-tx.Done():
				if h.done != nil {
					e.recovered("transaction end handler", func() { h.done(tx.Err(), c.gone.Load()) })
				}
				return
			}
		}
	}()
	if err := tx.Init(); err != nil {
		c.gone.Store(true)
		tx.Terminate()
	}
	return c, nil
}

// flowClosed ends what depended on a closed connection flow: client
// transactions over it fail at once (so their requests are answered 430/480
// without waiting for timers), and INVITEs that came from it are canceled.
func (e *Edge) flowClosed(f *flow) {
	e.txMu.Lock()
	var txs []*clientTxn
	for _, c := range e.clientTx {
		if c.flow == f {
			txs = append(txs, c)
		}
	}
	var pcs []*proxyCtx
	for _, pc := range e.proxies {
		if pc.u.in == f {
			pcs = append(pcs, pc)
		}
	}
	e.txMu.Unlock()
	for _, c := range txs {
		c.gone.Store(true)
		c.tx.Terminate()
	}
	for _, pc := range pcs {
		pc.cancelAll()
	}
}

// isTimeout reports whether a transaction ended on Timer B or F.
func isTimeout(err error) bool {
	return errors.Is(err, sip.ErrTransactionTimeout)
}
