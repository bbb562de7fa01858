//go:build !linux

package main

import "syscall"

// dieWithParent: only Linux has a parent-death signal; the demo needs Linux anyway.
func dieWithParent() *syscall.SysProcAttr { return nil }
