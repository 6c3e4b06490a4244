//go:build !linux

package main

import "syscall"

// childProcAttr puts the embedded proxy in its own process group (other
// systems have no parent-death signal).
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
