package netnsx

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
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
// then it returns nil. It needs CAP_NET_RAW and no tcpdump.
func (ns *NS) Capture(ctx context.Context, ifname string, w io.Writer) error {
	c, err := ns.StartCapture(ifname, w)
	if err != nil {
		return err
	}
	<-ctx.Done()
	return c.Close()
}

// Capturer is a capture in progress; see StartCapture.
type Capturer struct {
	file *os.File
	done chan struct{}
	mu   sync.Mutex
	err  error // the first write error
	once sync.Once
}

// StartCapture is Capture for callers that must know the capture is armed before they
// send traffic: it returns once the socket is bound and the pcap header written, and
// captures in the background until Close.
func (ns *NS) StartCapture(ifname string, w io.Writer) (*Capturer, error) {
	if w == nil {
		return nil, fmt.Errorf("netnsx: capture %s in %s: %w", ifname, ns, errdefs.Invalid("nil writer"))
	}
	link, err := ns.Link(ifname)
	if err != nil {
		return nil, fmt.Errorf("netnsx: capture: %w", err)
	}
	var fd int
	err = ns.Do(func() (err error) {
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, int(htons(unix.ETH_P_ALL)))
		return err
	})
	if err == nil {
		err = unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: link.Index()})
		if err != nil {
			unix.Close(fd)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("netnsx: capture %s in %s: %w", ifname, ns, errdefs.Kernel(err, "CAP_NET_RAW"))
	}
	c := &Capturer{file: os.NewFile(uintptr(fd), "packet:"+ifname), done: make(chan struct{})}
	var hdr [24]byte
	binary.LittleEndian.PutUint32(hdr[0:], pcapMagicMicro)
	binary.LittleEndian.PutUint16(hdr[4:], 2) // version 2.4
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], snapLen)
	binary.LittleEndian.PutUint32(hdr[20:], pcapEthernet)
	if _, err := w.Write(hdr[:]); err != nil {
		c.file.Close()
		return nil, fmt.Errorf("netnsx: capture %s in %s: %w", ifname, ns, err)
	}
	go c.loop(w)
	return c, nil
}

func (c *Capturer) loop(w io.Writer) {
	defer close(c.done)
	buf := make([]byte, snapLen)
	var rec [16]byte
	raw, err := c.file.SyscallConn()
	if err != nil {
		c.setErr(err)
		return
	}
	for {
		n, err := c.file.Read(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			// Closing: take what the kernel has already queued, then stop.
			_ = raw.Control(func(fd uintptr) {
				n, _, err = unix.Recvfrom(int(fd), buf, unix.MSG_DONTWAIT)
			})
			if err != nil || n <= 0 {
				return
			}
		} else if err != nil {
			return
		}
		now := time.Now()
		binary.LittleEndian.PutUint32(rec[0:], uint32(now.Unix()))
		binary.LittleEndian.PutUint32(rec[4:], uint32(now.Nanosecond()/1000))
		binary.LittleEndian.PutUint32(rec[8:], uint32(n))
		binary.LittleEndian.PutUint32(rec[12:], uint32(n))
		if _, err := w.Write(rec[:]); err == nil {
			_, err = w.Write(buf[:n])
		}
		if err != nil {
			c.setErr(err)
			return
		}
	}
}

func (c *Capturer) setErr(err error) {
	c.mu.Lock()
	c.err = err
	c.mu.Unlock()
}

// Close stops the capture and waits until the last frame is written. It returns the
// first error writing to w, if any. Idempotent.
func (c *Capturer) Close() error {
	if c == nil {
		return nil
	}
	c.once.Do(func() {
		_ = c.file.SetReadDeadline(time.Unix(1, 0)) // wake the reader, then close
		<-c.done
		c.file.Close()
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	if errors.Is(c.err, os.ErrClosed) {
		return nil
	}
	return c.err
}

// htons puts a protocol number in network byte order, as AF_PACKET wants it.
func htons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}
