// Command holdstreams opens many streamed completions (Chat by default, or
// the request body given) at once against one URL and keeps them open, so that the memory a proxy spends per open
// stream can be read off its RSS. It is part of `make bench-compare`.
//
//	holdstreams -url http://127.0.0.1:18083/v1/chat/completions -n 1000 -hold 5s -pid 1234
package main

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

func main() {
	target := flag.String("url", "", "chat completions URL (http only)")
	n := flag.Int("n", 1000, "streams to hold open at once")
	hold := flag.Duration("hold", 5*time.Second, "how long to hold them after all are open")
	pids := flag.String("pid", "", "comma-separated process ids whose RSS to report")
	key := flag.String("key", "", "bearer key to send")
	body := flag.String("body", `{"model":"mock-gpt","stream":true,"messages":[{"role":"user","content":"hi"}]}`,
		"request body (the default is a Chat Completions stream; pass a Messages body with a /v1/messages URL)")
	flag.Parse()
	u, err := url.Parse(*target)
	if err != nil || u.Scheme != "http" {
		fail("need -url http://host:port/path")
	}
	before := rss(*pids)
	req := "POST " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\nContent-Type: application/json\r\n"
	if *key != "" {
		req += "Authorization: Bearer " + *key + "\r\n"
	}
	req += "Content-Length: " + strconv.Itoa(len(*body)) + "\r\n\r\n" + *body

	conns := make([]net.Conn, 0, *n)
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for i := 0; i < *n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
			if err != nil {
				return
			}
			if _, err := c.Write([]byte(req)); err != nil {
				c.Close()
				return
			}
			// Wait until the stream has started (status line received).
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil || !strings.Contains(line, " 200") {
				c.Close()
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}()
	}
	wg.Wait()
	time.Sleep(*hold)
	during := rss(*pids)
	fmt.Printf("open_streams=%d", len(conns))
	for i := range before {
		fmt.Printf(" rss_before_kb[%d]=%d rss_during_kb[%d]=%d per_stream_bytes[%d]=%d", i, before[i], i, during[i], i,
			(during[i]-before[i])*1024/int64(max(len(conns), 1)))
	}
	fmt.Println()
	for _, c := range conns {
		c.Close()
	}
}

// rss returns the summed RSS in KiB of each comma-separated group of pids
// ("1+2,3" sums 1 and 2 as one group, for nginx's master and workers).
func rss(spec string) []int64 {
	if spec == "" {
		return nil
	}
	var out []int64
	for _, group := range strings.Split(spec, ",") {
		var total int64
		for _, pid := range strings.Split(group, "+") {
			b, err := os.ReadFile("/proc/" + pid + "/status")
			if err != nil {
				continue
			}
			for _, l := range strings.Split(string(b), "\n") {
				if strings.HasPrefix(l, "VmRSS:") {
					f := strings.Fields(l)
					v, _ := strconv.ParseInt(f[1], 10, 64)
					total += v
				}
			}
		}
		out = append(out, total)
	}
	return out
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "holdstreams:", msg)
	os.Exit(2)
}
