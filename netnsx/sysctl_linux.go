package netnsx

import (
	"fmt"
	"os"
	"strings"

	"github.com/nstopo/nstopo/internal/check"
	"github.com/nstopo/nstopo/internal/errdefs"
)

// Sysctl reads a network setting of the namespace, as `ip netns exec NS sysctl -n KEY`
// does: "net.ipv4.ip_forward" reads /proc/sys/net/ipv4/ip_forward as the namespace
// sees it. Only keys under net. belong to a namespace.
func (ns *NS) Sysctl(key string) (string, error) {
	if err := check.SysctlKey(key); err != nil {
		return "", fmt.Errorf("netnsx: sysctl %s in %s: %w", key, ns, err)
	}
	var v []byte
	err := ns.Do(func() (err error) {
		v, err = os.ReadFile(check.SysctlPath(key))
		return err
	})
	if err != nil {
		return "", fmt.Errorf("netnsx: sysctl %s in %s: %w", key, ns, errdefs.Kernel(err, "CAP_NET_ADMIN"))
	}
	return strings.TrimSpace(string(v)), nil
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
	err := ns.Do(func() error {
		f, err := os.OpenFile(check.SysctlPath(key), os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		if _, err := f.WriteString(value); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	})
	if err != nil {
		return fmt.Errorf("netnsx: sysctl %s=%s in %s: %w", key, value, ns, errdefs.Kernel(err, "CAP_NET_ADMIN"))
	}
	return nil
}
