package api

import (
	"testing"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/templates"
)

// Every built-in template must pass the same checks a source's own settings
// do, or a source created from it could not be saved.
func TestBuiltinTemplatesPassValidation(t *testing.T) {
	c := templates.MustBuiltin()
	if n := len(c.IDs()); n < 30 {
		t.Fatalf("%d templates, want at least 30", n)
	}
	for _, id := range c.IDs() {
		tpl, _ := c.Get(id)
		var v violations
		validateScheme(&v, "signature_scheme.", tpl.GetSignatureScheme())
		validateMappings(&v, "field_mappings.", tpl.GetFieldMappings())
		for _, fv := range v {
			t.Errorf("%s: %s: %s", id, fv.GetField(), fv.GetDescription())
		}
	}
}

func TestEventTypeEntries(t *testing.T) {
	for in, ok := range map[string]bool{
		"invoice.paid": true, "invoice.*": true, "*": true, "push": true,
		"": false, " ": false, "in voice": false, "a*b": false, "*.paid": false,
	} {
		var v violations
		validateFilter(&v, "f.", &plugsv1.EventFilter{EventTypes: []string{in}})
		if (len(v) == 0) != ok {
			t.Errorf("%q: violations %v, want ok=%v", in, v, ok)
		}
	}
}
