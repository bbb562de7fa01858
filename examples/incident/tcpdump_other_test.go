//go:build !linux

package main

import (
	"fmt"
	"runtime"
)

// tcpdump needs Linux's user namespaces; the tests that call it skip elsewhere anyway.
func tcpdump(file string, args ...string) ([]byte, error) {
	return nil, fmt.Errorf("tcpdump -nr %s: not on %s", file, runtime.GOOS)
}
