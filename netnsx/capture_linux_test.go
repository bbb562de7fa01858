package netnsx_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nstopo/nstopo/internal/iptest"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
	"github.com/nstopo/nstopo/veth"
)

// failingWriter accepts limit bytes, then fails every write, counting those it refused.
type failingWriter struct {
	mu      sync.Mutex
	limit   int
	written int
	refused int
}

var errDiskFull = errors.New("disk full")

func (w *failingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.written+len(p) > w.limit {
		w.refused++
		n := w.limit - w.written
		w.written = w.limit
		return n, errDiskFull
	}
	w.written += len(p)
	return len(p), nil
}

func (w *failingWriter) refusals() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.refused
}

// pinger pings dst from ns every few milliseconds until the returned stop is called.
func pinger(t *testing.T, ns *netnsx.NS, dst string) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			pctx, c := context.WithTimeout(ctx, 200*time.Millisecond)
			_, _ = ns.Ping(pctx, netip.MustParseAddr(dst))
			c()
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return func() { cancel(); <-done }
}

// TestIntegrationCaptureWriteError: a pcap that cannot be written is an error, not a
// corrupt file. The first failed write ends the capture; Capture returns at once and
// Close returns that error, and the writer is not called again.
func TestIntegrationCaptureWriteError(t *testing.T) {
	ns := netnsxtest.New(t)
	stop := pinger(t, ns, "127.0.0.1")
	defer stop()

	w := &failingWriter{limit: 24 + 16 + 40} // the header, then part of the first frames
	c, err := ns.StartCapture("lo", w)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return w.refusals() > 0 }, 5*time.Second, 5*time.Millisecond)
	time.Sleep(100 * time.Millisecond) // frames keep coming: none of them may be written
	err = c.Close()
	require.ErrorIs(t, err, errDiskFull)
	require.Contains(t, err.Error(), "netnsx: capture lo in "+ns.Name()+": ")
	require.Equal(t, 1, w.refusals(), "the writer was called again after it failed")
	require.ErrorIs(t, c.Close(), errDiskFull, "Close is idempotent and keeps the error")

	// Capture returns the error as soon as it happens, not when ctx ends.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	err = ns.Capture(ctx, "lo", &failingWriter{limit: 24})
	require.ErrorIs(t, err, errDiskFull)
	require.Less(t, time.Since(start), 10*time.Second)

	// A file closed under the capture is a write error too (os.ErrClosed), not an end.
	f, err := os.Create(filepath.Join(t.TempDir(), "closed.pcap"))
	require.NoError(t, err)
	c, err = ns.StartCapture("lo", f)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	done := make(chan error, 1)
	go func() {
		time.Sleep(300 * time.Millisecond)
		done <- c.Close()
	}()
	require.ErrorIs(t, <-done, os.ErrClosed)
}

// TestIntegrationCaptureLinkDeleted: a capture whose interface goes away ends with an
// error wrapping ErrNotFound; one whose interface only goes down and up again keeps
// capturing, as tcpdump does.
func TestIntegrationCaptureLinkDeleted(t *testing.T) {
	need(t, "tcpdump", "tcpdump")
	a, b := netnsxtest.New(t), netnsxtest.New(t)
	pair, err := veth.Create(veth.Config{
		A: veth.End{NS: a, Name: "eth0", Addrs: []netip.Prefix{netip.MustParsePrefix("10.7.0.1/24")}},
		B: veth.End{NS: b, Name: "eth0", Addrs: []netip.Prefix{netip.MustParsePrefix("10.7.0.2/24")}},
	})
	require.NoError(t, err)

	// Down and up: the capture goes on and sees the frames after the flap.
	f, err := os.Create(filepath.Join(t.TempDir(), "flap.pcap"))
	require.NoError(t, err)
	defer f.Close()
	c, err := a.StartCapture("eth0", f)
	require.NoError(t, err)
	require.NoError(t, pair.A.Down())
	time.Sleep(100 * time.Millisecond)
	require.NoError(t, pair.A.Up())
	ready, cancelReady := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelReady()
	require.NoError(t, pair.A.WaitReady(ready))
	require.NoError(t, pair.B.WaitReady(ready))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := a.PingStats(ctx, netip.MustParseAddr("10.7.0.2"), 5, 20*time.Millisecond)
	require.NoError(t, err)
	require.GreaterOrEqual(t, st.Received, 3, "%+v", st)
	require.NoError(t, c.Close(), "a link that went down and up again ends nothing")
	out, err := iptest.Tcpdump(f.Name(), "icmp")
	require.NoError(t, err, "%s", out)
	require.GreaterOrEqual(t, strings.Count(string(out), "10.7.0.2 > 10.7.0.1: ICMP echo reply"), st.Received, "%s", out)

	// Deleted: Capture ends by itself, with ErrNotFound and the kernel's ENETDOWN.
	capCtx, capCancel := context.WithTimeout(context.Background(), time.Minute)
	defer capCancel()
	done := make(chan error, 1)
	var buf lockedBuffer
	go func() { done <- a.Capture(capCtx, "eth0", &buf) }()
	require.Eventually(t, func() bool { return buf.Len() >= 24 }, 5*time.Second, time.Millisecond, "capture armed")
	require.NoError(t, pair.Delete())
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the capture of a deleted interface did not end")
	}
	require.ErrorIs(t, err, netnsx.ErrNotFound)
	require.Contains(t, err.Error(), "netnsx: capture eth0 in "+a.Name()+": ")
	require.NoError(t, capCtx.Err(), "the capture ended before its context")

	// The same through StartCapture and Close, on a link deleted in between.
	pair, err = veth.Create(veth.Config{A: veth.End{NS: a, Name: "eth1"}, B: veth.End{NS: b, Name: "eth1"}})
	require.NoError(t, err)
	c, err = a.StartCapture("eth1", &lockedBuffer{})
	require.NoError(t, err)
	require.NoError(t, pair.A.Delete())
	time.Sleep(100 * time.Millisecond)
	require.ErrorIs(t, c.Close(), netnsx.ErrNotFound)

	// Down first, deleted later: the kernel reports only the first; the end is found.
	pair, err = veth.Create(veth.Config{A: veth.End{NS: a, Name: "eth2"}, B: veth.End{NS: b, Name: "eth2"}})
	require.NoError(t, err)
	go func() { done <- a.Capture(capCtx, "eth2", &lockedBuffer{}) }()
	time.Sleep(50 * time.Millisecond)
	require.NoError(t, pair.A.Down())
	time.Sleep(300 * time.Millisecond)
	require.NoError(t, pair.Delete())
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the capture of an interface deleted while down did not end")
	}
	require.ErrorIs(t, err, netnsx.ErrNotFound)
}

// TestIntegrationCaptureOtherInterface: a capture shows only its own interface, even
// while another interface of the namespace is busy as the capture starts.
func TestIntegrationCaptureOtherInterface(t *testing.T) {
	need(t, "tcpdump", "tcpdump")
	a, b := netnsxtest.New(t), netnsxtest.New(t)
	for i := 1; i <= 2; i++ {
		_, err := veth.Create(veth.Config{
			A: veth.End{NS: a, Name: fmt.Sprintf("x%d", i), Addrs: []netip.Prefix{netip.MustParsePrefix(fmt.Sprintf("10.8.%d.1/24", i))}},
			B: veth.End{NS: b, Name: fmt.Sprintf("x%d", i), Addrs: []netip.Prefix{netip.MustParsePrefix(fmt.Sprintf("10.8.%d.2/24", i))}},
		})
		require.NoError(t, err)
	}
	// Flood x2 with UDP from a to b.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	conn, err := a.Dial(ctx, "udp4", "10.8.2.2:9")
	require.NoError(t, err)
	defer conn.Close()
	var sent atomic.Int64
	flooding := make(chan struct{})
	go func() {
		defer close(flooding)
		payload := make([]byte, 64)
		for ctx.Err() == nil {
			if _, err := conn.Write(payload); err == nil {
				sent.Add(1)
			}
		}
	}()
	defer func() { cancel(); <-flooding }()
	require.Eventually(t, func() bool { return sent.Load() > 1000 }, 5*time.Second, time.Millisecond)

	dir := t.TempDir()
	for i := 0; i < 100; i++ {
		name := filepath.Join(dir, fmt.Sprintf("x1-%d.pcap", i))
		f, err := os.Create(name)
		require.NoError(t, err)
		c, err := a.StartCapture("x1", f)
		require.NoError(t, err)
		require.NoError(t, c.Close())
		require.NoError(t, f.Close())
		if i%25 != 0 && pcapFrames(t, name) == 0 {
			continue // tcpdump reads a few empty ones, and every one with frames
		}
		out, err := iptest.Tcpdump(name)
		require.NoError(t, err, "%s", out)
		require.NotContains(t, string(out), "10.8.2.", "frames of x2 in the capture of x1 (%d UDP sent)", sent.Load())
	}
	// The flood really is on x2: a capture there sees it.
	name := filepath.Join(dir, "x2.pcap")
	f, err := os.Create(name)
	require.NoError(t, err)
	c, err := a.StartCapture("x2", f)
	require.NoError(t, err)
	time.Sleep(50 * time.Millisecond)
	require.NoError(t, c.Close())
	require.NoError(t, f.Close())
	out, err := iptest.Tcpdump(name, "-c", "5")
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "10.8.2.1.", "%s", out)
}

// pcapFrames counts the records of a pcap file.
func pcapFrames(t *testing.T, name string) int {
	b, err := os.ReadFile(name)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(b), 24, "pcap header")
	n := 0
	for b = b[24:]; len(b) > 0; n++ {
		require.GreaterOrEqual(t, len(b), 16, "record header")
		size := int(binary.LittleEndian.Uint32(b[8:12]))
		require.GreaterOrEqual(t, len(b), 16+size, "record")
		b = b[16+size:]
	}
	return n
}

// lockedBuffer is a bytes buffer safe to read while the capture writes it.
type lockedBuffer struct {
	mu sync.Mutex
	n  int
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.n += len(p)
	return len(p), nil
}

func (b *lockedBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n
}
