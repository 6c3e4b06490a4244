package main

import "syscall"

// childProcAttr puts the embedded proxy in its own process group and has
// the kernel stop it when the load tester dies.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
