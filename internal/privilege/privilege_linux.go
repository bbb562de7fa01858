// Package privilege tells what the process may do with namespaces: whether it holds the
// capabilities that making them needs, and whether it holds them only inside a user
// namespace of its own.
package privilege

import (
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// Has reports whether the process has CAP_SYS_ADMIN and CAP_NET_ADMIN in its user
// namespace, which making network namespaces needs.
func Has() bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if unix.Capget(&hdr, &data[0]) != nil {
		return false
	}
	const need = 1<<unix.CAP_SYS_ADMIN | 1<<unix.CAP_NET_ADMIN
	return data[0].Effective&need == need
}

// InitialUserNS reports whether the process is in the machine's first user namespace,
// whose uid map is the identity over the whole range.
func InitialUserNS() bool {
	b, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return true // no user namespaces at all
	}
	return strings.Join(strings.Fields(string(b)), " ") == "0 0 4294967295"
}
