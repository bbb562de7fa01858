package netnsx

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/nstopo/nstopo/internal/check"
	"github.com/nstopo/nstopo/internal/errdefs"
	"github.com/nstopo/nstopo/internal/rtnl"
)

// zoneIndex turns an IPv6 zone into the index, as a number, of the interface it names
// in this namespace. Go would look a name up in its process-wide cache of interfaces,
// filled from whichever namespace last refreshed it (usually the host's), and get that
// namespace's index, or none. A number that names no interface here is an index
// already, as it is to Go; the kernel checks it.
func (ns *NS) zoneIndex(zone string) (string, error) {
	if zone == "" {
		return "", nil
	}
	if err := check.IfName("zone", zone); err != nil {
		return "", err
	}
	n, err := resolve(ns)
	if err != nil {
		return "", err
	}
	var index int
	err = n.useRaw(func(c *rtnl.Conn, _ int) error {
		l, err := c.LinkByName(zone)
		if err == nil {
			index = l.Index
		}
		return err
	})
	switch {
	case err == nil:
		return strconv.Itoa(index), nil
	case errors.Is(err, errdefs.ErrClosed):
		return "", err
	}
	err = errdefs.Kernel(fmt.Errorf("zone %s: %w", zone, err), "")
	if i, perr := strconv.ParseUint(zone, 10, 31); perr == nil && i > 0 && errors.Is(err, ErrNotFound) {
		return strconv.FormatUint(i, 10), nil
	}
	return "", err
}
