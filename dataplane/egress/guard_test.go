package egress

import (
	"errors"
	"io"
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
		"100.64.0.1", "100.127.255.254", "224.0.0.1", "239.255.255.250", "255.255.255.255", "0.0.0.0",
		"::1", "::", "fc00::1", "fd12:3456::1", "fe80::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::a00:1",
	} {
		if err := g.CheckAddr(netip.MustParseAddr(s)); !errors.Is(err, ErrForbiddenAddress) {
			t.Errorf("%s allowed", s)
		}
	}
	for _, s := range []string{"8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"} {
		if err := g.CheckAddr(netip.MustParseAddr(s)); err != nil {
			t.Errorf("%s refused: %v", s, err)
		}
	}
}

func TestClientRefusesLoopbackByNameAndNumber(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "secret") }))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":"):]
	g, _ := NewGuard(nil)
	c := g.Client(5 * time.Second)
	// "localhost" resolves to 127.0.0.1: the check runs on the resolved
	// address, so the name does not get through.
	for _, u := range []string{srv.URL, "http://localhost" + port, "http://[::ffff:127.0.0.1]" + port} {
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
