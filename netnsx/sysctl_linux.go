package netnsx

import (
	"fmt"
	"io"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/nstopo/nstopo/internal/check"
	"github.com/nstopo/nstopo/internal/errdefs"
	"github.com/nstopo/nstopo/internal/rtnl"
)

// Sysctl reads a network setting of the namespace, as `ip netns exec NS sysctl -n KEY`
// does: "net.ipv4.ip_forward" reads /proc/sys/net/ipv4/ip_forward as the namespace
// sees it. Only keys under net. belong to a namespace.
func (ns *NS) Sysctl(key string) (string, error) {
	if err := check.SysctlKey(key); err != nil {
		return "", fmt.Errorf("netnsx: sysctl %s in %s: %w", key, ns, err)
	}
	var v []byte
	err := ns.inside("sysctl", label(key+" in "+ns.String()), func() error {
		return withSysctls(func(sys int) error {
			f, err := openSysctlAt(sys, key, unix.O_RDONLY)
			if err != nil {
				return err
			}
			defer f.Close()
			v, err = io.ReadAll(f)
			return err
		})
	})
	return strings.TrimSpace(string(v)), err
}

// SetSysctl writes a network setting of the namespace, as
// `ip netns exec NS sysctl -w KEY=VALUE` does — net.ipv4.ip_forward=1 for a router, or
// net.ipv6.conf.default.disable_ipv6=1 before making interfaces in a large lab (see
// the README: IPv6 autoconfiguration is what makes big bridges slow).
func (ns *NS) SetSysctl(key, value string) error {
	if err := check.SysctlKey(key); err != nil {
		return fmt.Errorf("netnsx: sysctl %s in %s: %w", key, ns, err)
	}
	if value == "" || len(value) > 4096 || strings.ContainsAny(value, "\x00\n") {
		return fmt.Errorf("netnsx: sysctl %s in %s: %w", key, ns, errdefs.Invalid("value %q: want one line of text", value))
	}
	return ns.inside("sysctl", label(key+"="+value+" in "+ns.String()), func() error {
		return withSysctls(func(sys int) error { return writeSysctlAt(sys, key, value) })
	})
}

// inside runs fn on a thread inside the namespace, as Do does, with the namespace held
// open meanwhile; errors read "netnsx: op obj: " once, where Do would add its own.
func (ns *NS) inside(op string, obj fmt.Stringer, fn func() error) error {
	return ns.use(op, obj, func(_ *rtnl.Conn, fd int) error { return enter(fd, fn) })
}
