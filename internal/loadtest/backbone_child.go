package loadtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"time"

	"github.com/plugshq/plugs/backbone"
)

// BackboneCommand is the argument that makes the harness's own binary run
// as a backbone child: an embedded nats-server alone in its process, so its
// memory can be read apart from everything else (and the split
// installation has a NATS to point both planes at, as production has).
const BackboneCommand = "backbone-server"

// backboneHello is the one line a backbone child prints once it serves:
// its NATS URL and the base URL of its /mem and /heap endpoints.
type backboneHello struct {
	NATS string `json:"nats"`
	Mem  string `json:"mem"`
}

// HeapStats is what a backbone child reports of its Go heap, after a
// collection, and of its resident memory.
type HeapStats struct {
	HeapInuse  uint64 `json:"heapInuse"`
	HeapAlloc  uint64 `json:"heapAlloc"`
	HeapObject uint64 `json:"heapObjects"`
	Sys        uint64 `json:"sys"`
	RSS        int64  `json:"rss"`
	HWM        int64  `json:"hwm"`
}

// ServeBackbone runs an embedded JetStream server with its store under
// dir until ctx ends, prints a JSON line with its URL and that of a
// memory-statistics server to out, which answers GET /mem with HeapStats
// taken after a full collection and GET /heap with a heap profile.
func ServeBackbone(ctx context.Context, dir string, out io.Writer) error {
	srv, err := backbone.StartEmbeddedWith(dir, "127.0.0.1", -1, backbone.DurabilityDefault, nil)
	if err != nil {
		return err
	}
	defer srv.Shutdown()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /mem", func(w http.ResponseWriter, _ *http.Request) {
		runtime.GC()
		debug.FreeOSMemory()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		m, err := ReadMem(0)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_ = json.NewEncoder(w).Encode(HeapStats{HeapInuse: ms.HeapInuse, HeapAlloc: ms.HeapAlloc, HeapObject: ms.HeapObjects,
			Sys: ms.Sys, RSS: m.RSS, HWM: m.HWM})
	})
	// The heap profile says what the remembered ids cost is made of.
	mux.HandleFunc("GET /heap", func(w http.ResponseWriter, _ *http.Request) {
		runtime.GC()
		_ = pprof.Lookup("heap").WriteTo(w, 0)
	})
	s, err := Serve(mux)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := json.NewEncoder(out).Encode(backboneHello{NATS: srv.URL(), Mem: s.URL}); err != nil {
		return fmt.Errorf("loadtest: backbone child: %w", err)
	}
	<-ctx.Done()
	return nil
}

// Backbone is a running backbone child.
type Backbone struct {
	Proc *Process
	URL  string
	mem  string
}

// StartBackbone runs self (this harness's binary) as a backbone child with
// its store under dir.
func StartBackbone(self, dir, logPath string) (*Backbone, error) {
	p, err := startProcess("backbone", self, []string{BackboneCommand, "--dir", dir}, nil, logPath)
	if err != nil {
		return nil, err
	}
	line, err := p.ReadLine(30 * time.Second)
	if err != nil {
		_ = p.Stop(5 * time.Second)
		return nil, err
	}
	var h backboneHello
	if err := json.Unmarshal([]byte(line), &h); err != nil {
		_ = p.Stop(5 * time.Second)
		return nil, fmt.Errorf("%w: backbone child said %q: %w", ErrStart, line, err)
	}
	p.Discard()
	return &Backbone{Proc: p, URL: h.NATS, mem: h.Mem}, nil
}

// Heap asks the child for its memory after a collection.
func (b *Backbone) Heap(ctx context.Context) (HeapStats, error) {
	var hs HeapStats
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.mem+"/mem", nil)
	if err != nil {
		return hs, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return hs, fmt.Errorf("loadtest: backbone memory: %w", err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&hs); err != nil {
		return hs, fmt.Errorf("loadtest: backbone memory: %w", err)
	}
	return hs, nil
}

// HeapProfile saves the child's heap profile to path.
func (b *Backbone) HeapProfile(ctx context.Context, path string) error {
	return fetch(ctx, b.mem+"/heap", path)
}
