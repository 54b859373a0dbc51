package egress

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestCheckAddr(t *testing.T) {
	g, err := NewGuard(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		"127.0.0.1", "127.8.9.10", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254",
		"100.64.0.1", "100.127.255.254", "224.0.0.1", "239.255.255.250", "255.255.255.255", "0.0.0.0", "192.88.99.1",
		"::1", "::", "fc00::1", "fd12:3456::1", "fe80::1", "fec0::1", "ff02::1", "100::1", "5f00::1", "3fff::1",
		"2001:db8::1", "2001:2::1", "2001:10::1",
		// IPv4-mapped, IPv4-compatible and IPv4-translated forms.
		"::ffff:127.0.0.1", "::ffff:10.0.0.1", "::127.0.0.1", "::8.8.8.8", "::ffff:0:127.0.0.1",
		// NAT64: the well-known prefix with an internal address, and
		// local-use NAT64 whatever it carries.
		"64:ff9b::a00:1", "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "64:ff9b:1::808:808",
		// 6to4 with an internal address in bits 16-47.
		"2002:7f00:1::1", "2002:a00:1:1::1", "2002:a9fe:a9fe::",
		// Teredo: client 127.0.0.1 (bits inverted: 80ff:fffe) behind a
		// public server, and a private server.
		"2001:0:4136:e378:8000:63bf:80ff:fffe", "2001:0:a00:1:8000:63bf:f7f7:f7f7",
		// ISATAP interface identifiers carrying internal addresses under a
		// public prefix, with and without the universal/local bit.
		"2600:1f18::5efe:a00:1", "2600:1f18::200:5efe:7f00:1", "2600:1f18::300:5efe:a9fe:a9fe",
		// Zones never make an address acceptable.
		"::1%lo", "fe80::1%eth0", "::ffff:127.0.0.1%lo", "fd00::2%1",
	} {
		if err := g.CheckAddr(netip.MustParseAddr(s)); !errors.Is(err, ErrForbiddenAddress) {
			t.Errorf("%s allowed", s)
		}
	}
	for _, s := range []string{
		"8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "2606:4700:4700::1111", "::ffff:8.8.8.8",
		"64:ff9b::808:808",                     // NAT64 of a public address
		"2002:808:808::1",                      // 6to4 of a public address
		"2001:0:4136:e378:8000:63bf:f7f7:f7f7", // Teredo: server 65.54.227.120, client 8.8.8.8
		"2600:1f18::200:5efe:808:808",          // ISATAP of a public address
		"2a00:1450:4001:81c::200e",
	} {
		if err := g.CheckAddr(netip.MustParseAddr(s)); err != nil {
			t.Errorf("%s refused: %v", s, err)
		}
	}
}

func TestAllowlistIgnoresZones(t *testing.T) {
	g, err := NewGuard([]string{"::1/128"})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.CheckAddr(netip.MustParseAddr("::1%lo")); err != nil {
		t.Fatalf("allowlisted ::1 refused with a zone: %v", err)
	}
	if err := g.CheckAddr(netip.MustParseAddr("fe80::1%lo")); !errors.Is(err, ErrForbiddenAddress) {
		t.Fatalf("fe80::1%%lo allowed by a ::1 allowlist: %v", err)
	}
}

func TestClientRefusesZonedLoopback(t *testing.T) {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "secret")
	})}}
	srv.Start()
	defer srv.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	refused(t,
		fmt.Sprintf("http://[::1]:%d/", port),
		fmt.Sprintf("http://[::1%%25lo]:%d/", port),
		fmt.Sprintf("http://[::1%%251]:%d/", port),
	)
}

func TestClientRefusesLoopbackByNameAndNumber(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "secret") }))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":"):]
	// "localhost" resolves to 127.0.0.1: the check runs on the resolved
	// address, so the name does not get through.
	refused(t, srv.URL, "http://localhost"+port, "http://[::ffff:127.0.0.1]"+port)
}

// refused checks that a client of a guard without allowlist reaches none
// of urls, each refused by the guard.
func refused(t *testing.T, urls ...string) {
	t.Helper()
	g, err := NewGuard(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := g.Client(5 * time.Second)
	for _, u := range urls {
		resp, err := c.Get(u)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("%s: reached", u)
		}
		if !errors.Is(err, ErrForbiddenAddress) {
			t.Fatalf("%s: %v, want ErrForbiddenAddress", u, err)
		}
	}
}

func TestAllowlist(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":"):]
	byCIDR, _ := NewGuard([]string{"127.0.0.0/8"})
	byName, _ := NewGuard([]string{"localhost"})
	for name, c := range map[string]struct {
		g   *Guard
		url string
	}{"cidr": {byCIDR, srv.URL}, "name": {byName, "http://localhost" + port}} {
		resp, err := c.g.Client(5 * time.Second).Get(c.url)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		resp.Body.Close()
	}
	// Allowing a name does not allow the address behind another name.
	if resp, err := byName.Client(5 * time.Second).Get(srv.URL); err == nil {
		resp.Body.Close()
		t.Fatal("127.0.0.1 reached through a name allowlist")
	}
	if _, err := NewGuard([]string{"not a host/or cidr"}); err == nil {
		t.Fatal("bad allowlist entry accepted")
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { t.Error("redirect followed") }))
	defer target.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL, http.StatusFound)
	}))
	defer srv.Close()
	g, _ := NewGuard([]string{"127.0.0.0/8"})
	resp, err := g.Client(5 * time.Second).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("status %d", resp.StatusCode)
	}
}
