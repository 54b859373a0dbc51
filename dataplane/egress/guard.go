// Package egress guards every outbound connection Plugs makes to a
// customer-supplied URL (destinations, test deliveries) against
// server-side request forgery. The check runs on the address actually being
// dialled, after DNS resolution, in the dialer's Control hook: a name that
// resolves to a public address when saved and to 127.0.0.1 when used (DNS
// rebinding) is refused at connect time. Redirects are never followed.
package egress

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// Guard decides which addresses outbound connections may reach.
type Guard struct {
	// Allow lists CIDRs and host names the operator permits despite the
	// rules (a local test receiver, say). Development only.
	allowNets  []netip.Prefix
	allowHosts map[string]bool
}

// NewGuard returns a guard; allow holds CIDRs ("127.0.0.1/32") and host
// names ("receiver.internal").
func NewGuard(allow []string) (*Guard, error) {
	g := &Guard{allowHosts: map[string]bool{}}
	for _, a := range allow {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		if p, err := netip.ParsePrefix(a); err == nil {
			g.allowNets = append(g.allowNets, p.Masked())
			continue
		}
		if ip, err := netip.ParseAddr(a); err == nil {
			g.allowNets = append(g.allowNets, netip.PrefixFrom(ip, ip.BitLen()))
			continue
		}
		if strings.ContainsAny(a, "/ :") {
			return nil, fmt.Errorf("egress: allowlist entry %q is neither a CIDR nor a host name", a)
		}
		g.allowHosts[strings.ToLower(strings.TrimSuffix(a, "."))] = true
	}
	return g, nil
}

// HostAllowed reports whether host is on the allowlist by name.
func (g *Guard) HostAllowed(host string) bool {
	return g != nil && g.allowHosts[strings.ToLower(strings.TrimSuffix(host, "."))]
}

// CheckAddr reports whether ip may be connected to: allowlisted, or
// accepted by Check. A zone is ignored on both counts.
func (g *Guard) CheckAddr(ip netip.Addr) error {
	bare := ip.WithZone("").Unmap()
	if g != nil {
		for _, p := range g.allowNets {
			if p.Contains(bare) {
				return nil
			}
		}
	}
	return Check(bare)
}

// Dialer returns a dialer that refuses forbidden addresses at connect time.
// Connections to hosts allowlisted by name skip the check; every other
// connection is checked on the address the kernel is asked to reach.
func (g *Guard) Dialer(timeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	checked := &net.Dialer{
		Timeout: timeout,
		Control: func(_, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return fmt.Errorf("%w: %q", ErrForbiddenAddress, address)
			}
			ip, err := netip.ParseAddr(host)
			if err != nil {
				return fmt.Errorf("%w: %q is not an IP address", ErrForbiddenAddress, host)
			}
			return g.CheckAddr(ip)
		},
	}
	open := &net.Dialer{Timeout: timeout}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if host, _, err := net.SplitHostPort(addr); err == nil && g.HostAllowed(host) {
			return open.DialContext(ctx, network, addr)
		}
		return checked.DialContext(ctx, network, addr)
	}
}

// maxIdlePerHost is the most connections kept open to one host between
// requests: the largest max_concurrency a destination may have.
const maxIdlePerHost = 100

// Client returns an HTTP client whose every connection passes the guard,
// that never follows redirects (a 3xx is the answer) and never uses a proxy
// from the environment (the proxy would make the connection instead).
func (g *Guard) Client(timeout time.Duration) *http.Client {
	tr := &http.Transport{
		Proxy:             nil,
		DialContext:       g.Dialer(10 * time.Second),
		ForceAttemptHTTP2: true,
		// A destination takes up to 100 attempts at once (its
		// max_concurrency); with fewer idle connections kept per host,
		// every attempt past them dials anew and closes its connection
		// after, which cost the forwarder more CPU than its requests.
		// No bound across hosts: what is kept idle is at most what the
		// destinations' concurrency opened, and closes after 90 s idle.
		MaxIdleConns:          0,
		MaxIdleConnsPerHost:   maxIdlePerHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: timeout,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
