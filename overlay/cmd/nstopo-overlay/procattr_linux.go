package main

import "syscall"

// dieWithParent makes a child get SIGKILL when the thread that started it ends.
func dieWithParent() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }
