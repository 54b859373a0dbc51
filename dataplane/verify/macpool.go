package verify

import (
	"hash"
	"sync"
	"sync/atomic"
)

// macPool keeps the keyed HMAC states of one secret for reuse: keying one
// costs two hash blocks and several allocations, more than verifying a
// small body's signature with it.
//
// One idle state is held in a slot the garbage collector leaves alone, so
// that a secret used less often than the collector runs (one source among
// thousands, each getting a webhook every few seconds) still finds its
// keyed state, where a sync.Pool would have been emptied meanwhile. That
// costs one state (about 600 bytes for SHA-256) per secret in use. States
// needed beyond it, by concurrent requests to one source, come from a
// sync.Pool and go when unused.
type macPool struct {
	newMAC func() hash.Hash
	idle   atomic.Pointer[pooledMAC]
	more   sync.Pool // *pooledMAC
}

// pooledMAC is a keyed state; a pointer, so that it fits the slot and the
// pool without an allocation per put.
type pooledMAC struct{ h hash.Hash }

// get returns a keyed state, reused when one is idle.
func (p *macPool) get() *pooledMAC {
	if m := p.idle.Swap(nil); m != nil {
		return m
	}
	if m, ok := p.more.Get().(*pooledMAC); ok {
		return m
	}
	return &pooledMAC{h: p.newMAC()}
}

// put hands a state back after use.
func (p *macPool) put(m *pooledMAC) {
	if !p.idle.CompareAndSwap(nil, m) {
		p.more.Put(m)
	}
}
