package payload

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestDecodeXML(t *testing.T) {
	for _, c := range []struct {
		name, xml, want string
	}{
		{"Braintree notification", `<?xml version="1.0" encoding="UTF-8"?>
<notification>
  <timestamp type="datetime">2026-03-02T10:29:58Z</timestamp>
  <kind>subscription_charged_successfully</kind>
  <subject>
    <subscription>
      <id>sub_42</id>
      <transactions type="array">
        <transaction><id>tx_1</id><amount>49.00</amount></transaction>
        <transaction><id>tx_2</id><amount>0.10</amount></transaction>
      </transactions>
      <add-ons type="array"/>
    </subscription>
  </subject>
</notification>`,
			`{"notification":{"kind":"subscription_charged_successfully","subject":{"subscription":{"add-ons":"","id":"sub_42",` +
				`"transactions":{"@type":"array","transaction":[{"amount":"49.00","id":"tx_1"},{"amount":"0.10","id":"tx_2"}]}}},` +
				`"timestamp":"2026-03-02T10:29:58Z"}}`},
		{"entities and CDATA", `<a><b>x &amp; &lt;y&gt;</b><c><![CDATA[<raw>]]></c></a>`, `{"a":{"b":"x & <y>","c":"<raw>"}}`},
		{"namespaces dropped", `<p:a xmlns:p="urn:x"><p:b>1</p:b></p:a>`, `{"a":{"@p":"urn:x","b":"1"}}`},
		{"three of a name", `<a><i>1</i><i>2</i><j/><i>3</i></a>`, `{"a":{"i":["1","2","3"],"j":""}}`},
		{"text root", `<a> 7 </a>`, `{"a":"7"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := DecodeXML([]byte(c.xml))
			if err != nil {
				t.Fatal(err)
			}
			var out strings.Builder
			enc := json.NewEncoder(&out)
			enc.SetEscapeHTML(false)
			_ = enc.Encode(got)
			if strings.TrimSpace(out.String()) != c.want {
				t.Fatalf("got  %s\nwant %s", out.String(), c.want)
			}
		})
	}
	deep := strings.Repeat("<a>", MaxXMLDepth+1) + strings.Repeat("</a>", MaxXMLDepth+1)
	for name, bad := range map[string]string{
		"empty": "", "two roots": "<a/><b/>", "unclosed": "<a><b></b>", "text outside": "x<a/>",
		"mismatched": "<a></b>", "unknown entity": "<a>&ext;</a>", "too deep": deep,
	} {
		if _, err := DecodeXML([]byte(bad)); !errors.Is(err, ErrUnparsable) {
			t.Errorf("%s: got %v, want ErrUnparsable", name, err)
		}
	}
	if _, err := DecodeXML([]byte(strings.Repeat("<a>", MaxXMLDepth) + strings.Repeat("</a>", MaxXMLDepth))); err != nil {
		t.Errorf("%d levels: %v", MaxXMLDepth, err)
	}
}

// FuzzDecodeXML decodes random documents; what decodes must write back
// (elements for keys, attributes for "@" keys, repeated elements for
// lists) to a document that decodes to the same tree, and never nest
// deeper than MaxXMLDepth.
func FuzzDecodeXML(f *testing.F) {
	for _, seed := range []string{
		`<notification><kind>k</kind><subject><s><id>1</id></s></subject></notification>`,
		`<a x="1"><b>2</b><b>3</b></a>`, `<a><![CDATA[x]]></a>`, `<p:a xmlns:p="u"><p:b/></p:a>`, `<a>&amp;</a>`,
		`<!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>`, `<a><b></a>`, `<?xml version="1.0"?><a/>`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tree, err := DecodeXML(data)
		if err != nil {
			if !errors.Is(err, ErrUnparsable) {
				t.Fatalf("%v does not wrap ErrUnparsable", err)
			}
			return
		}
		root := tree.(map[string]any)
		if len(root) != 1 {
			t.Fatalf("%d roots", len(root))
		}
		var b strings.Builder
		for name, val := range root {
			writeXML(t, &b, name, val, 1)
		}
		if !standaloneNames(tree) {
			return // a local name after a prefix ("p:0") may not stand alone
		}
		again, err := DecodeXML([]byte(b.String()))
		if err != nil {
			t.Fatalf("%q wrote %q, which does not decode: %v", data, b.String(), err)
		}
		if !reflect.DeepEqual(tree, again) {
			t.Fatalf("%q decodes to %v; written back %q decodes to %v", data, tree, b.String(), again)
		}
	})
}

// writeXML writes a decoded value back as the element name.
func writeXML(t *testing.T, b *strings.Builder, name string, val any, depth int) {
	if depth > MaxXMLDepth {
		t.Fatalf("nested deeper than %d", MaxXMLDepth)
	}
	switch v := val.(type) {
	case string:
		b.WriteString("<" + name + ">")
		_ = xml.EscapeText(b, []byte(v))
		b.WriteString("</" + name + ">")
	case map[string]any:
		b.WriteString("<" + name)
		keys := slices.Sorted(maps.Keys(v))
		for _, k := range keys {
			if attr, ok := strings.CutPrefix(k, "@"); ok {
				b.WriteString(" " + attr + `="`)
				_ = xml.EscapeText(b, []byte(v[k].(string)))
				b.WriteString(`"`)
			}
		}
		b.WriteString(">")
		for _, k := range keys {
			if strings.HasPrefix(k, "@") {
				continue
			}
			if list, ok := v[k].([]any); ok {
				for _, item := range list {
					writeXML(t, b, k, item, depth+1)
				}
				continue
			}
			writeXML(t, b, k, v[k], depth+1)
		}
		b.WriteString("</" + name + ">")
	default:
		t.Fatalf("value %T", val)
	}
}

// standaloneNames reports whether every element and attribute name of a
// decoded tree is an XML name on its own.
func standaloneNames(val any) bool {
	m, ok := val.(map[string]any)
	if !ok {
		if list, isList := val.([]any); isList {
			for _, item := range list {
				if !standaloneNames(item) {
					return false
				}
			}
		}
		return true
	}
	for k, v := range m {
		if _, err := DecodeXML([]byte("<" + strings.TrimPrefix(k, "@") + "/>")); err != nil {
			return false
		}
		if !standaloneNames(v) {
			return false
		}
	}
	return true
}
