package server_test

import (
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// httpRules is proto/plugs/v1/plugs.http.yaml, read strictly: a rule
// using a field this test does not know (custom, say) fails the test
// rather than being skipped.
type httpRules struct {
	Type          string `json:"type"`
	ConfigVersion int    `json:"config_version"`
	HTTP          struct {
		Rules []httpRule `json:"rules"`
	} `json:"http"`
}

type httpRule struct {
	Selector           string     `json:"selector"`
	Get                string     `json:"get"`
	Post               string     `json:"post"`
	Put                string     `json:"put"`
	Patch              string     `json:"patch"`
	Delete             string     `json:"delete"`
	Body               string     `json:"body"`
	ResponseBody       string     `json:"response_body"`
	AdditionalBindings []httpRule `json:"additional_bindings"`
}

// routes lists the rule's "METHOD path" pairs, its additional bindings
// included.
func (r httpRule) routes() []string {
	var out []string
	for method, path := range map[string]string{
		"GET": r.Get, "POST": r.Post, "PUT": r.Put, "PATCH": r.Patch, "DELETE": r.Delete,
	} {
		if path != "" {
			out = append(out, method+" "+jsonPathParams(path))
		}
	}
	for _, b := range r.AdditionalBindings {
		out = append(out, b.routes()...)
	}
	return out
}

var pathParam = regexp.MustCompile(`\{[^}]*\}`)

// jsonPathParams writes a rule's path parameters under their JSON names
// ({usage_event_id} → {usageEventId}), as the OpenAPI document names them.
func jsonPathParams(path string) string {
	return pathParam.ReplaceAllStringFunc(path, func(p string) string {
		parts := strings.Split(strings.Trim(p, "{}"), ".")
		for i, part := range parts {
			words := strings.Split(part, "_")
			for j := 1; j < len(words); j++ {
				if words[j] != "" {
					words[j] = strings.ToUpper(words[j][:1]) + words[j][1:]
				}
			}
			parts[i] = strings.Join(words, "")
		}
		return "{" + strings.Join(parts, ".") + "}"
	})
}

// TestOpenAPIServed checks that the gateway serves the API's description
// without a key, and that it describes every REST route of the HTTP rules
// and nothing else: a rule added without `make generate` fails here.
func TestOpenAPIServed(t *testing.T) {
	e := startEnv(t, "sqlite")

	resp, err := http.Get("http://" + e.srv.HTTPAddr + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /openapi.json without an API key: %d, want 200", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var doc struct {
		Swagger string                                `json:"swagger"`
		Info    struct{ Title, Version string }       `json:"info"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
		// How to authenticate: an API key in Authorization.
		SecurityDefinitions map[string]struct{ Type, Name, In string } `json:"securityDefinitions"`
		Security            []map[string][]string                      `json:"security"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatalf("the served document is not JSON: %v", err)
	}
	if doc.Swagger != "2.0" {
		t.Errorf("swagger %q, want 2.0", doc.Swagger)
	}
	if doc.Info.Title != "Plugs API" || doc.Info.Version != "v1" {
		t.Errorf("info %+v, want Plugs API v1", doc.Info)
	}
	if b := doc.SecurityDefinitions["bearer"]; b.Type != "apiKey" || b.Name != "Authorization" || b.In != "header" {
		t.Errorf("security definition %+v, want an apiKey in the Authorization header", b)
	}
	if len(doc.Security) != 1 || doc.Security[0]["bearer"] == nil {
		t.Errorf("security %v does not require the bearer key", doc.Security)
	}
	var served []string
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" {
				continue // shared by the path's operations, not one
			}
			served = append(served, strings.ToUpper(method)+" "+path)
		}
	}

	b, err := os.ReadFile("../../proto/plugs/v1/plugs.http.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var rules httpRules
	if err := yaml.UnmarshalStrict(b, &rules); err != nil {
		t.Fatalf("plugs.http.yaml: %v", err)
	}
	var want []string
	for _, r := range rules.HTTP.Rules {
		routes := r.routes()
		if len(routes) == 0 {
			t.Errorf("rule %s has no HTTP method", r.Selector)
		}
		want = append(want, routes...)
	}
	if len(want) == 0 {
		t.Fatal("no HTTP rules read from plugs.http.yaml")
	}
	slices.Sort(want)
	slices.Sort(served)
	for _, r := range want {
		if !slices.Contains(served, r) {
			t.Errorf("%s is an HTTP rule but not in /openapi.json (run make generate)", r)
		}
	}
	for _, r := range served {
		if !slices.Contains(want, r) {
			t.Errorf("%s is in /openapi.json but no HTTP rule (run make generate)", r)
		}
	}

	// The description is public; the API it describes is not.
	if code, _ := e.rest("GET", "/v1/sources", "", ""); code != http.StatusUnauthorized {
		t.Errorf("GET /v1/sources without an API key: %d, want 401", code)
	}
}
