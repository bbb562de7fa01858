// Package echo is a TCP echo service inside a namespace and a client that checks the
// echo: how netnsxtest and the tests prove that traffic crosses a topology (the
// examples carry their own copy, a few lines, so that each can be copied out).
package echo

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"time"
)

// Listener and Dialer are what Serve and RoundTrip need of a namespace: a *netnsx.NS.
// Interfaces, so that this internal package imports no public one.
type (
	Listener interface {
		Listen(ctx context.Context, network, address string) (net.Listener, error)
	}
	Dialer interface {
		Dial(ctx context.Context, network, address string) (net.Conn, error)
	}
)

// Serve listens on addr inside ns and echoes every connection until the returned
// listener is closed.
func Serve(ctx context.Context, ns Listener, addr string) (net.Listener, error) {
	l, err := ns.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer func() { _ = c.Close() }()
				_ = c.SetDeadline(time.Now().Add(30 * time.Second))
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return l, nil
}

// RoundTrip dials addr from inside ns, sends payload, and checks that exactly the same
// bytes come back.
func RoundTrip(ctx context.Context, ns Dialer, addr string, payload []byte) error {
	c, err := ns.Dial(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer func() { _ = c.Close() }()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(payload)
		if err == nil {
			err = c.(*net.TCPConn).CloseWrite()
		}
		errc <- err
	}()
	got, err := io.ReadAll(c)
	if werr := <-errc; werr != nil {
		return fmt.Errorf("send to %s: %w", addr, werr)
	}
	if err != nil {
		return fmt.Errorf("read from %s: %w", addr, err)
	}
	if !bytes.Equal(got, payload) {
		return fmt.Errorf("%s echoed %d bytes, want the %d sent", addr, len(got), len(payload))
	}
	return nil
}
