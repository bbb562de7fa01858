//go:build !linux

package iptest

import (
	"fmt"
	"runtime"
)

// Tcpdump needs Linux's user namespaces; the tests that call it skip elsewhere anyway.
func Tcpdump(file string, args ...string) ([]byte, error) {
	return nil, fmt.Errorf("tcpdump -nr %s: not on %s", file, runtime.GOOS)
}
