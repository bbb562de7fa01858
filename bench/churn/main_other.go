//go:build !linux

// Command churn needs Linux: it makes network namespaces.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "churn: network namespaces need Linux")
	os.Exit(1)
}
