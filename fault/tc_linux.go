package fault

import (
	"errors"
	"fmt"
	"time"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"

	"github.com/nstopo/nstopo/internal/errdefs"
	"github.com/nstopo/nstopo/internal/rtnl"
	"github.com/nstopo/nstopo/netnsx"
)

const linkLayerEthernet = 1 // TC_LINKLAYER_ETHERNET: no rate table needed

// ticks converts a duration to the kernel's psched ticks (64 ns each, PSCHED_SHIFT 6).
func ticks(d time.Duration) uint32 { return uint32(min(d.Nanoseconds()>>6, 1<<32-1)) }

// LimitRate attaches a token-bucket filter (tbf) as the root queueing discipline of
// link, so that what the link sends leaves at cfg.Rate at most. A link whose root is
// already someone's own (not the kernel's default) is ErrExists. Remove restores the
// default.
func LimitRate(link *netnsx.Link, cfg RateLimit) (*Qdisc, error) {
	op := fmt.Sprintf("limit rate of %s to %d bit/s", link, cfg.Rate)
	if link == nil {
		return nil, fmt.Errorf("fault: %s: %w", op, errdefs.Invalid("nil link"))
	}
	cfg, err := cfg.validate()
	if err != nil {
		return nil, fmt.Errorf("fault: %s in %s: %w", op, link.NS(), err)
	}
	bps := cfg.Rate / 8 // the kernel counts bytes
	var qopt nl.TcTbfQopt
	qopt.Rate.Linklayer = linkLayerEthernet
	qopt.Rate.Rate = uint32(min(bps, 1<<32-1))
	qopt.Limit = uint32(min(bps*uint64(cfg.Latency)/uint64(time.Second)+uint64(cfg.Burst), 1<<32-1))
	qopt.Buffer = ticks(time.Duration(uint64(cfg.Burst) * uint64(time.Second) / bps))
	opts := nl.NewRtAttr(nl.TCA_OPTIONS, nil)
	opts.AddRtAttr(nl.TCA_TBF_PARMS, qopt.Serialize())
	opts.AddRtAttr(nl.TCA_TBF_BURST, nl.Uint32Attr(uint32(cfg.Burst)))
	if bps >= 1<<32 {
		opts.AddRtAttr(nl.TCA_TBF_RATE64, nl.Uint64Attr(bps))
	}
	q, err := addQdisc(link, "tbf", opts)
	if err != nil {
		return nil, fmt.Errorf("fault: %s in %s: %w", op, link.NS(), errdefs.Kernel(err, "CAP_NET_ADMIN"))
	}
	return q, nil
}

// Emulate attaches the kernel's network emulator (netem) as the root queueing
// discipline of link, delaying what it sends. Kernels built without sch_netem say
// ErrNotSupported, naming the module.
func Emulate(link *netnsx.Link, cfg Netem) (*Qdisc, error) {
	op := fmt.Sprintf("emulate delay %v±%v on %s", cfg.Delay, cfg.Jitter, link)
	if link == nil {
		return nil, fmt.Errorf("fault: %s: %w", op, errdefs.Invalid("nil link"))
	}
	cfg, err := cfg.validate()
	if err != nil {
		return nil, fmt.Errorf("fault: %s in %s: %w", op, link.NS(), err)
	}
	qopt := nl.TcNetemQopt{Latency: ticks(cfg.Delay), Jitter: ticks(cfg.Jitter), Limit: uint32(cfg.Limit)}
	q, err := addQdisc(link, "netem", nl.NewRtAttr(nl.TCA_OPTIONS, qopt.Serialize()))
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EOPNOTSUPP) {
		// ENOENT is "Specified qdisc kind is unknown": the kernel could not load it.
		err = fmt.Errorf("%w: the kernel has no netem (module sch_netem is missing; modprobe sch_netem): %w", netnsx.ErrNotSupported, err)
	}
	if err != nil {
		return nil, fmt.Errorf("fault: %s in %s: %w", op, link.NS(), errdefs.Kernel(err, "CAP_NET_ADMIN"))
	}
	return q, nil
}

// addQdisc adds the root qdisc and reads back the handle the kernel gave it.
func addQdisc(link *netnsx.Link, kind string, opts *nl.RtAttr) (*Qdisc, error) {
	q := &Qdisc{link: link, kind: kind}
	err := useNS(link.NS(), func(c *rtnl.Conn, _ int) error {
		if err := c.QdiscAdd(rtnl.QdiscSpec{Index: link.Index(), Kind: kind, Options: opts}); err != nil {
			return err
		}
		root, err := c.RootQdisc(link.Index())
		if err != nil {
			return err
		}
		if root == nil || root.Kind != kind {
			return fmt.Errorf("the root qdisc is not the %s just added", kind)
		}
		q.handle = root.Handle
		return nil
	})
	if err != nil {
		return nil, err
	}
	return q, nil
}

// Remove deletes the queueing discipline, so the kernel attaches the link's default
// again. It is idempotent; a root replaced since by someone else, or gone with its
// link, is left alone and counts as removed.
func (q *Qdisc) Remove() error {
	if q == nil {
		return nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.removed {
		return nil
	}
	err := useNS(q.link.NS(), func(c *rtnl.Conn, _ int) error {
		root, err := c.RootQdisc(q.link.Index())
		if errors.Is(err, unix.ENODEV) {
			return nil
		}
		if err != nil {
			return err
		}
		if root == nil || root.Kind != q.kind || root.Handle != q.handle {
			return nil
		}
		err = c.QdiscDel(q.link.Index(), q.handle)
		if errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENOENT) {
			return nil
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("fault: remove %s: %w", q, errdefs.Kernel(err, "CAP_NET_ADMIN"))
	}
	q.removed = true
	return nil
}
