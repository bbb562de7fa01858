//go:build !linux

package fault

import (
	"fmt"
	"net/netip"
	"runtime"
	"time"

	"github.com/nstopo/nstopo/netnsx"
)

func errNotSupported(op string) error {
	return fmt.Errorf("fault: %s: impairments need Linux, not %s: %w", op, runtime.GOOS, netnsx.ErrNotSupported)
}

func Add(ns *netnsx.NS, r Rule) (*Filter, error) { return nil, errNotSupported("add") }
func Loss(ns *netnsx.NS, percent int, r Rule) (*Filter, error) {
	return nil, errNotSupported("loss")
}
func ResetHandshakes(ns *netnsx.NS, port int) (*Filter, error) {
	return nil, errNotSupported("reset handshakes")
}
func Partition(ns *netnsx.NS, a, b netip.Prefix, oneWay bool) (*Filter, error) {
	return nil, errNotSupported("partition")
}
func (f *Filter) Remove() error               { return nil }
func (f *Filter) Counters() (Counters, error) { return Counters{}, errNotSupported("counters") }
func LimitRate(link *netnsx.Link, cfg RateLimit) (*Qdisc, error) {
	return nil, errNotSupported("limit rate")
}
func Emulate(link *netnsx.Link, cfg Netem) (*Qdisc, error) { return nil, errNotSupported("emulate") }
func (q *Qdisc) Remove() error                             { return nil }
func Down(link *netnsx.Link, wait ...*netnsx.Link) (*LinkDown, error) {
	return nil, errNotSupported("down")
}

// LinkDown is a link this package took down, made by [Down]. Remove brings it up again.
type LinkDown struct{}

func (d *LinkDown) Remove() error { return nil }
func Flap(link *netnsx.Link, down time.Duration, wait ...*netnsx.Link) error {
	return errNotSupported("flap")
}
