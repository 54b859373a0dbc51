package verify

import plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"

// legacyHandshake describes a named handshake kind as a rule, so the kinds
// sources already hold run on the same engine as rules written as data.
func legacyHandshake(kind plugsv1.SignatureScheme_Handshake) *plugsv1.HandshakeRule {
	query := func(name string) *plugsv1.HandshakeInput {
		return &plugsv1.HandshakeInput{From: &plugsv1.HandshakeInput_QueryParam{QueryParam: name}}
	}
	header := func(name string) *plugsv1.HandshakeInput {
		return &plugsv1.HandshakeInput{From: &plugsv1.HandshakeInput_Header{Header: name}}
	}
	path := func(p string) *plugsv1.HandshakeInput {
		return &plugsv1.HandshakeInput{From: &plugsv1.HandshakeInput_JsonPath{JsonPath: p}}
	}
	when := func(in *plugsv1.HandshakeInput, equals string) []*plugsv1.HandshakeCondition {
		return []*plugsv1.HandshakeCondition{{Input: in, Equals: equals}}
	}
	echo := &plugsv1.HandshakeValue{}
	jsonOf := func(fields ...*plugsv1.HandshakeField) *plugsv1.HandshakeAnswer {
		return &plugsv1.HandshakeAnswer{ContentType: "application/json",
			Body: &plugsv1.HandshakeAnswer_Json{Json: &plugsv1.HandshakeFields{Fields: fields}}}
	}
	field := func(name string, v *plugsv1.HandshakeValue) *plugsv1.HandshakeField {
		return &plugsv1.HandshakeField{Name: name, Value: v}
	}
	switch kind {
	case plugsv1.SignatureScheme_HANDSHAKE_SLACK_URL_VERIFICATION:
		return &plugsv1.HandshakeRule{Method: "POST", Signed: true,
			Conditions: when(path("$.type"), "url_verification"),
			Challenge:  path("$.challenge"),
			Answer:     jsonOf(field("challenge", echo))}
	case plugsv1.SignatureScheme_HANDSHAKE_META_HUB_CHALLENGE:
		return &plugsv1.HandshakeRule{Method: "GET",
			Conditions:  when(query("hub.mode"), "subscribe"),
			VerifyToken: query("hub.verify_token"),
			Challenge:   query("hub.challenge"),
			Answer: &plugsv1.HandshakeAnswer{ContentType: "text/plain; charset=utf-8",
				Body: &plugsv1.HandshakeAnswer_Text{Text: echo}}}
	case plugsv1.SignatureScheme_HANDSHAKE_TWITTER_CRC:
		return &plugsv1.HandshakeRule{Method: "GET",
			Conditions: when(query("crc_token"), ""),
			Challenge:  query("crc_token"),
			Answer: jsonOf(field("response_token", &plugsv1.HandshakeValue{
				Mac: plugsv1.SignatureScheme_ALGORITHM_HMAC_SHA256, Encoding: plugsv1.SignatureScheme_ENCODING_BASE64, Prefix: "sha256="}))}
	case plugsv1.SignatureScheme_HANDSHAKE_OKTA_VERIFICATION:
		// Echoing the challenge proves only that this URL answers; events
		// themselves are still checked against the source's token.
		return &plugsv1.HandshakeRule{Method: "GET",
			Conditions: when(header("X-Okta-Verification-Challenge"), ""),
			Challenge:  header("X-Okta-Verification-Challenge"),
			Answer:     jsonOf(field("verification", echo))}
	case plugsv1.SignatureScheme_HANDSHAKE_ZOOM_URL_VALIDATION:
		return &plugsv1.HandshakeRule{Method: "POST", Signed: true,
			Conditions: when(path("$.event"), "endpoint.url_validation"),
			Challenge:  path("$.payload.plainToken"),
			Answer: jsonOf(field("plainToken", echo), field("encryptedToken", &plugsv1.HandshakeValue{
				Mac: plugsv1.SignatureScheme_ALGORITHM_HMAC_SHA256, Encoding: plugsv1.SignatureScheme_ENCODING_HEX}))}
	case plugsv1.SignatureScheme_HANDSHAKE_DISCORD_PING:
		return &plugsv1.HandshakeRule{Method: "POST", Signed: true,
			Conditions: []*plugsv1.HandshakeCondition{{Input: path("$.type"), EqualsJson: "1"}},
			Answer: &plugsv1.HandshakeAnswer{ContentType: "application/json",
				Body: &plugsv1.HandshakeAnswer_Fixed{Fixed: `{"type":1}`}}}
	}
	return nil
}
