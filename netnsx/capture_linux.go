package netnsx

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nstopo/nstopo/internal/errdefs"
)

// pcap constants: the classic file format that tcpdump -r and Wireshark read.
const (
	pcapMagicMicro = 0xa1b2c3d4
	pcapEthernet   = 1 // LINKTYPE_ETHERNET
	snapLen        = 262144
)

// Capture writes every frame seen on ifname inside the namespace — received and sent,
// as `tcpdump -i ifname -w -` inside it would — to w as a pcap stream, until ctx ends;
// then it returns nil. It needs CAP_NET_RAW and no tcpdump. It returns early, with an
// error, when a write to w fails or when the interface goes away (deleted, or moved to
// another namespace: ErrNotFound); a link that only goes down and up again ends nothing.
func (ns *NS) Capture(ctx context.Context, ifname string, w io.Writer) error {
	c, err := ns.StartCapture(ifname, w)
	if err != nil {
		return err
	}
	select {
	case <-ctx.Done():
	case <-c.done:
	}
	return c.Close()
}

// Capturer is a capture in progress; see StartCapture.
type Capturer struct {
	file *os.File
	what string // "capture eth0 in ns1", for errors
	done chan struct{}
	once sync.Once

	mu      sync.Mutex
	err     error // what ended the capture: the first write error, or the interface gone
	closing bool  // Close has set the read deadline that stops the loop
}

// downPoll is how often a capture whose link is down checks that the link still exists:
// the kernel reports the link going down, but not its deletion after that.
const downPoll = 200 * time.Millisecond

// StartCapture is Capture for callers that must know the capture is armed before they
// send traffic: it returns once the socket is bound and the pcap header written, and
// captures in the background until Close, a failed write or the interface's removal.
func (ns *NS) StartCapture(ifname string, w io.Writer) (*Capturer, error) {
	what := fmt.Sprintf("capture %s in %s", ifname, ns)
	if w == nil {
		return nil, fmt.Errorf("netnsx: %s: %w", what, errdefs.Invalid("nil writer"))
	}
	link, err := ns.lookup(ifname)
	if err != nil {
		return nil, fmt.Errorf("netnsx: %s: %w", what, err)
	}
	// Protocol 0 receives nothing until bind names the protocol and the interface
	// together; a socket opened with ETH_P_ALL would queue every interface's frames
	// until then.
	var fd int
	err = ns.do(func() (err error) {
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
		return err
	})
	if err == nil {
		err = unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: link.Index()})
		if err != nil {
			_ = unix.Close(fd)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("netnsx: %s: %w", what, errdefs.Kernel(err, "CAP_NET_RAW"))
	}
	c := &Capturer{file: os.NewFile(uintptr(fd), "packet:"+ifname), what: what, done: make(chan struct{})}
	var hdr [24]byte
	binary.LittleEndian.PutUint32(hdr[0:], pcapMagicMicro)
	binary.LittleEndian.PutUint16(hdr[4:], 2) // version 2.4
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], snapLen)
	binary.LittleEndian.PutUint32(hdr[20:], pcapEthernet)
	if _, err := w.Write(hdr[:]); err != nil {
		_ = c.file.Close()
		return nil, fmt.Errorf("netnsx: %s: %w", what, err)
	}
	go c.loop(w)
	return c, nil
}

func (c *Capturer) loop(w io.Writer) {
	defer close(c.done)
	buf := make([]byte, 16+snapLen) // a pcap record header, then the frame
	raw, err := c.file.SyscallConn()
	if err != nil {
		c.fail(err)
		return
	}
	// write puts one record in one Write; false when the capture must end.
	write := func(n int) bool {
		now := time.Now()
		binary.LittleEndian.PutUint32(buf[0:], uint32(now.Unix()))
		binary.LittleEndian.PutUint32(buf[4:], uint32(now.Nanosecond()/1000))
		binary.LittleEndian.PutUint32(buf[8:], uint32(n))
		binary.LittleEndian.PutUint32(buf[12:], uint32(n))
		if _, err := w.Write(buf[:16+n]); err != nil {
			c.fail(err)
			return false
		}
		return true
	}
	// drain writes what the kernel had queued before the end.
	drain := func() bool {
		for {
			var n int
			var err error
			_ = raw.Control(func(fd uintptr) {
				n, _, err = unix.Recvfrom(int(fd), buf[16:], unix.MSG_DONTWAIT)
			})
			if err != nil || n <= 0 {
				return true
			}
			if !write(n) {
				return false
			}
		}
	}
	down := false
	for {
		n, err := c.file.Read(buf[16:])
		switch {
		case err == nil:
			if down {
				down = false
				c.poll(0)
			}
			if !write(n) {
				return
			}
		case errors.Is(err, io.EOF): // an empty frame
		case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, unix.ENETDOWN):
			// ENETDOWN: the link went down. The kernel says so once, and re-arms the
			// socket when the link comes up. Deleting a link takes it down first, then
			// unbinds the socket: that is the end, reported once, so it is polled for
			// while the link is down. A deadline is that poll, or Close.
			if c.gone(raw) {
				if drain() {
					c.fail(fmt.Errorf("%w: the interface was deleted or left the namespace: %w", ErrNotFound, unix.ENETDOWN))
				}
				return
			}
			if c.stopping() {
				drain()
				return
			}
			down = true
			c.poll(downPoll)
		default:
			c.fail(errdefs.Kernel(err, "CAP_NET_RAW"))
			return
		}
	}
}

// gone reports whether the socket has lost its interface: the kernel unbinds a packet
// socket (ifindex -1) when its interface is unregistered from the namespace.
func (c *Capturer) gone(raw syscall.RawConn) bool {
	var sa unix.Sockaddr
	var err error
	_ = raw.Control(func(fd uintptr) { sa, err = unix.Getsockname(int(fd)) })
	ll, ok := sa.(*unix.SockaddrLinklayer)
	return err == nil && ok && ll.Ifindex <= 0
}

// poll makes the blocked read return after d (none: 0), unless Close is stopping the
// loop: Close's deadline must not be pushed back.
func (c *Capturer) poll(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return
	}
	var t time.Time
	if d > 0 {
		t = time.Now().Add(d)
	}
	_ = c.file.SetReadDeadline(t)
}

func (c *Capturer) stopping() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing
}

// fail records what ended the capture; the first error wins.
func (c *Capturer) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = fmt.Errorf("netnsx: %s: %w", c.what, err)
	}
}

// Close stops the capture and waits until the last frame is written. It returns what
// ended the capture early, if anything: the first error writing to w, or the interface
// gone (ErrNotFound). Idempotent.
func (c *Capturer) Close() error {
	if c == nil {
		return nil
	}
	c.once.Do(func() {
		c.mu.Lock()
		c.closing = true
		_ = c.file.SetReadDeadline(time.Unix(1, 0)) // wake the reader, then close
		c.mu.Unlock()
		<-c.done
		_ = c.file.Close()
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// htons puts a protocol number in network byte order, as AF_PACKET wants it.
func htons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}
