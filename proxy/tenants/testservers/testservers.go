// Package testservers starts real PostgreSQL and Redis servers for tests,
// on loopback, on free ports, in temporary directories, and stops them
// when the test ends. A test whose binary is missing is skipped with a
// message naming the Debian package to install.
package testservers

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // to wait for the server
)

// freePort returns a loopback port nobody listens on now.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// findBinary looks for name on PATH, then in the given directories' globs.
func findBinary(name string, globs ...string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, g := range globs {
		if m, _ := filepath.Glob(g); len(m) > 0 {
			return m[len(m)-1]
		}
	}
	return ""
}

// Postgres starts a PostgreSQL server and returns its DSN.
func Postgres(t testing.TB) string {
	t.Helper()
	dsn, _ := StartPostgres(t)
	return dsn
}

// StartPostgres is Postgres with a function that stops the server before
// the test ends (a store that goes down).
func StartPostgres(t testing.TB) (dsn string, stop func()) {
	t.Helper()
	initdb := findBinary("initdb", "/usr/lib/postgresql/*/bin/initdb")
	postgres := findBinary("postgres", "/usr/lib/postgresql/*/bin/postgres")
	if initdb == "" || postgres == "" {
		t.Skip("PostgreSQL not installed (initdb/postgres not found): apt-get install postgresql")
	}
	dir, err := os.MkdirTemp("", "proxy-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	cred := dropRoot(t, dir)
	var out bytes.Buffer
	cmd := exec.Command(initdb, "-D", filepath.Join(dir, "data"), "-U", "test", "--auth=trust", "-E", "UTF8", "--no-sync")
	cmd.SysProcAttr, cmd.Stdout, cmd.Stderr = cred, &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out.String())
	}
	port := freePort(t)
	srv := exec.Command(postgres, "-D", filepath.Join(dir, "data"), "-p", strconv.Itoa(port), "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	var log bytes.Buffer
	srv.SysProcAttr, srv.Stdout, srv.Stderr = cred, &log, &log
	if err := srv.Start(); err != nil {
		t.Fatalf("postgres: %v", err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			_ = srv.Process.Signal(syscall.SIGINT) // fast shutdown
			done := make(chan struct{})
			go func() { _ = srv.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				_ = srv.Process.Kill()
				<-done
			}
		})
	}
	t.Cleanup(stop)
	dsn = fmt.Sprintf("postgres://test@127.0.0.1:%d/postgres?sslmode=disable", port)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err = db.PingContext(ctx)
		cancel()
		if err == nil {
			return dsn, stop
		}
		if time.Now().After(deadline) {
			t.Fatalf("postgres did not come up: %v\n%s", err, log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// dropRoot returns the credentials PostgreSQL must run with: it refuses
// to run as root, so as root it runs as the postgres user, owning dir.
func dropRoot(t testing.TB, dir string) *syscall.SysProcAttr {
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		t.Skip("running as root and there is no postgres user to run PostgreSQL as: apt-get install postgresql")
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	return &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
}

// Redis starts a redis-server and returns its address.
func Redis(t testing.TB) string {
	t.Helper()
	addr, _ := StartRedis(t)
	return addr
}

// StartRedis is Redis with a function that stops the server before the
// test ends.
func StartRedis(t testing.TB) (addr string, stop func()) {
	t.Helper()
	bin := findBinary("redis-server")
	if bin == "" {
		t.Skip("redis-server not installed: apt-get install redis-server")
	}
	dir := t.TempDir()
	port := freePort(t)
	srv := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir)
	var log bytes.Buffer
	srv.Stdout, srv.Stderr = &log, &log
	if err := srv.Start(); err != nil {
		t.Fatalf("redis-server: %v", err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			_ = srv.Process.Kill()
			_ = srv.Wait()
		})
	}
	t.Cleanup(stop)
	addr = "127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_, _ = c.Write([]byte("PING\r\n"))
			buf := make([]byte, 16)
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			n, _ := c.Read(buf)
			c.Close()
			if bytes.HasPrefix(buf[:n], []byte("+PONG")) {
				return addr, stop
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server did not come up: %v\n%s", err, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
