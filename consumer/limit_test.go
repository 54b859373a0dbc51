package consumer_test

import (
	"bytes"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/plugshq/plugs/consumer"
)

func TestMaxBody(t *testing.T) {
	body := eventBody(t, testUsage())
	n := int64(len(body))
	h := sign(t, consumer.Signer{Key: testKey}, "msg", testNow, body)
	huge := bytes.Repeat([]byte{' '}, consumer.DefaultMaxBody+1)
	tests := []struct {
		name    string
		maxBody int64
		body    []byte
		want    error
	}{
		{name: "at the limit", maxBody: n, body: body},
		{name: "one byte over", maxBody: n - 1, body: body, want: consumer.ErrBodyTooLarge},
		{name: "default limit", body: body},
		{name: "over the default limit", body: huge, want: consumer.ErrBodyTooLarge},
		{name: "negative means default", maxBody: -1, body: huge, want: consumer.ErrBodyTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := &consumer.Verifier{Key: testKey, Now: fixedClock(testNow), MaxBody: tt.maxBody}
			if _, err := v.Verify(tt.body, h); !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Errorf("Verify: err = %v, want %v", err, tt.want)
			}
			r := httptest.NewRequest("POST", "/plugs", bytes.NewReader(tt.body))
			r.Header = h
			if _, err := v.VerifyRequest(r); !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Errorf("VerifyRequest: err = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestVerifyRequestReadsNoMoreThanTheLimit checks that an endless body is
// cut off at the limit rather than read to the end.
func TestVerifyRequestReadsNoMoreThanTheLimit(t *testing.T) {
	endless := &countingReader{r: iotest.OneByteReader(neverEnding('x'))}
	r := httptest.NewRequest("POST", "/plugs", endless)
	v := &consumer.Verifier{Key: testKey, MaxBody: 1024}
	if _, err := v.VerifyRequest(r); !errors.Is(err, consumer.ErrBodyTooLarge) {
		t.Fatalf("err = %v, want %v", err, consumer.ErrBodyTooLarge)
	}
	if endless.n > 1025 {
		t.Errorf("read %d bytes, limit 1024", endless.n)
	}
}

func TestVerifyRequestReadError(t *testing.T) {
	boom := errors.New("connection reset")
	r := httptest.NewRequest("POST", "/plugs", iotest.ErrReader(boom))
	v := &consumer.Verifier{Key: testKey}
	if _, err := v.VerifyRequest(r); !errors.Is(err, boom) || !strings.Contains(err.Error(), "read body") {
		t.Errorf("err = %v, want the read error", err)
	}
}

type neverEnding byte

func (b neverEnding) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}
