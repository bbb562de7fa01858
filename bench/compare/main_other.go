//go:build !linux

// Command compare needs Linux: it builds network namespaces.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "compare: network namespaces need Linux")
	os.Exit(1)
}
