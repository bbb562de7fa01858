//go:build !linux

package main

import "os"

// isTerminal reports false: nstopo builds labs only on Linux.
func isTerminal(*os.File) bool { return false }
