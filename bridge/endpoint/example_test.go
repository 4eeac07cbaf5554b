package endpoint_test

import (
	"context"
	"fmt"
	"os"

	"github.com/simplegw/simplegw/bridge/endpoint"
	"github.com/simplegw/simplegw/bridge/msrp"
)

// A WebSocket client authenticates to its relay and sends a file to a peer whose SDP path
// attribute named peerPath (RFC 4976 §5.1, RFC 7977).
func Example() {
	ctx := context.Background()
	c, err := endpoint.Dial(ctx, "ws://127.0.0.1:8080/msrp", endpoint.Options{
		OnMessage: func(m *endpoint.Incoming) { fmt.Printf("%s: %q\n", m.ContentType, m.Body) },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	s := c.NewSession(nil)
	relay, _ := msrp.ParseURI("msrp://127.0.0.1:8080;ws")
	granted, err := c.Auth(ctx, s.Local, []msrp.URI{relay}, "alice", "secret", 0)
	if err != nil {
		fmt.Println(err, endpoint.Code(err)) // 403, 423, …
		return
	}
	peerPath, _ := msrp.ParsePath("msrp://127.0.0.1:2860/peer1;tcp")
	s.ToPath = append(granted.UsePath, peerPath...)

	f, _ := os.Open("photo.jpg")
	defer f.Close()
	st, _ := f.Stat()
	res, err := c.Send(ctx, s, "image/jpeg", f, st.Size(), endpoint.SendOptions{SuccessReport: true})
	fmt.Println(res, err)
}
