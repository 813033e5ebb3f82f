package sigv4

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// keys is a KeyStore over a map: access key id -> {secret, user}.
type keys map[string][2]string

func (k keys) Lookup(id string) (string, string, bool) {
	e, ok := k[id]
	return e[0], e[1], ok
}

var _ KeyStore = keys(nil)

// The AWS test suite's credentials and clock.
const (
	suiteKey    = "AKIDEXAMPLE"
	suiteSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	suiteDate   = "20150830T123600Z"
)

var suiteTime = time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC)

// readRequest parses raw HTTP/1.1 text (lines joined with "\n") as a server
// would receive it.
func readRequest(t *testing.T, raw string) *http.Request {
	t.Helper()
	head, body, _ := strings.Cut(raw, "\n\n")
	wire := strings.ReplaceAll(head, "\n", "\r\n") + "\r\n\r\n" + body
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(wire)))
	if err != nil {
		t.Fatalf("parse request %q: %v", raw, err)
	}
	return r
}

// suiteVector is one case of AWS's Signature Version 4 test suite (the
// .req file as the request, the .authz file as want), or the IAM example
// of the SigV4 documentation.
type suiteVector struct {
	name    string
	service string
	req     string // request text without Authorization
	body    string
	// canonical and sts, where set, are the suite's .creq and .sts.
	canonical, sts string
	want           string // Authorization
	// verifyOnly: the signed-header set is one Sign never produces (it
	// includes content-length), so only Verify is checked.
	verifyOnly bool
}

func authz(service, signedHeaders, sig string) string {
	return "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/" + service +
		"/aws4_request, SignedHeaders=" + signedHeaders + ", Signature=" + sig
}

const emptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

var suiteVectors = []suiteVector{
	{
		name: "iam-documentation-example", service: "iam",
		req: "GET /?Action=ListUsers&Version=2010-05-08 HTTP/1.1\nHost: iam.amazonaws.com\n" +
			"Content-Type: application/x-www-form-urlencoded; charset=utf-8\nX-Amz-Date: 20150830T123600Z",
		canonical: "GET\n/\nAction=ListUsers&Version=2010-05-08\n" +
			"content-type:application/x-www-form-urlencoded; charset=utf-8\nhost:iam.amazonaws.com\nx-amz-date:20150830T123600Z\n\n" +
			"content-type;host;x-amz-date\n" + emptyHash,
		sts: "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/iam/aws4_request\n" +
			"f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59",
		want: authz("iam", "content-type;host;x-amz-date", "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"),
	},
	{
		name:      "get-vanilla",
		req:       "GET / HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
		canonical: "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" + emptyHash,
		sts: "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n" +
			"bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
		want: authz("service", "host;x-amz-date", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
	},
	// The normalize-path cases whose path normalises to "/": the same
	// canonical request, so the same signature as get-vanilla.
	{
		name: "get-relative",
		req:  "GET /example/.. HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
		want: authz("service", "host;x-amz-date", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
	},
	{
		name: "get-relative-relative",
		req:  "GET /example1/example2/../.. HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
		want: authz("service", "host;x-amz-date", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
	},
	{
		name: "get-slash",
		req:  "GET // HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
		want: authz("service", "host;x-amz-date", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
	},
	{
		name: "get-slash-dot-slash",
		req:  "GET /./ HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
		want: authz("service", "host;x-amz-date", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
	},
	{
		name: "get-unreserved",
		req: "GET /-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz HTTP/1.1\n" +
			"Host:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
		want: authz("service", "host;x-amz-date", "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"),
	},
	{
		name: "get-vanilla-query-order-key-case",
		req:  "GET /?Param2=value2&Param1=value1 HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
		canonical: "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n" +
			"host;x-amz-date\n" + emptyHash,
		sts: "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n" +
			"816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0",
		want: authz("service", "host;x-amz-date", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
	},
	{
		name: "get-vanilla-query-order-value",
		req:  "GET /?Param1=value2&Param1=value1 HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
		want: authz("service", "host;x-amz-date", "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694"),
	},
	{
		name: "get-vanilla-query-order-encoded",
		req:  "GET /?Param-3=Value3&Param=Value2&%E1%88%B4=Value1 HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
		canonical: "GET\n/\n%E1%88%B4=Value1&Param=Value2&Param-3=Value3\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n" +
			"host;x-amz-date\n" + emptyHash,
		sts: "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n" +
			"868294f5c38bd141c4972a373a76654f1418a8e4fc18b2e7903ae45e8ae0ec71",
		want: authz("service", "host;x-amz-date", "371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac"),
	},
	{
		name: "get-vanilla-query-unreserved",
		req: "GET /?-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=" +
			"-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz HTTP/1.1\n" +
			"Host:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
		want: authz("service", "host;x-amz-date", "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"),
	},
	{
		name: "get-vanilla-utf8-query",
		req:  "GET /?%E1%88%B4=bar HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
		want: authz("service", "host;x-amz-date", "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"),
	},
	{
		name: "get-vanilla-empty-query-key",
		req:  "GET /?Param1=value1 HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
		want: authz("service", "host;x-amz-date", "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb"),
	},
	{
		name: "get-header-key-duplicate",
		req: "GET / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1:value2\nMy-Header1:value2\nMy-Header1:value1\n" +
			"X-Amz-Date:20150830T123600Z",
		canonical: "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value2,value2,value1\nx-amz-date:20150830T123600Z\n\n" +
			"host;my-header1;x-amz-date\n" + emptyHash,
		want: authz("service", "host;my-header1;x-amz-date", "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"),
	},
	{
		name: "get-header-value-order",
		req: "GET / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1:value4\nMy-Header1:value1\nMy-Header1:value3\n" +
			"My-Header1:value2\nX-Amz-Date:20150830T123600Z",
		want: authz("service", "host;my-header1;x-amz-date", "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01"),
	},
	{
		name: "get-header-value-trim",
		req:  "GET / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1: value1\nMy-Header2: \"a   b   c\"\nX-Amz-Date:20150830T123600Z",
		canonical: "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nmy-header2:\"a b c\"\nx-amz-date:20150830T123600Z\n\n" +
			"host;my-header1;my-header2;x-amz-date\n" + emptyHash,
		want: authz("service", "host;my-header1;my-header2;x-amz-date", "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"),
	},
	{
		name: "get-vanilla-with-session-token",
		req: "GET / HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z\n" +
			"X-Amz-Security-Token:6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267",
		want: authz("service", "host;x-amz-date;x-amz-security-token", "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8"),
	},
	{
		name: "post-vanilla",
		req:  "POST / HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
		want: authz("service", "host;x-amz-date", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"),
	},
	{
		name: "post-vanilla-query",
		req:  "POST /?Param1=value1 HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
		want: authz("service", "host;x-amz-date", "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"),
	},
	{
		name: "post-vanilla-query-nonunreserved",
		req: "POST /?%40%23%24%25%5E=&%2B=%2F%2C%3F%3E%3C%60%22%3B%3A%5C%7C%5D%5B%7B%7D HTTP/1.1\n" +
			"Host:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
		want: authz("service", "host;x-amz-date", "66c82657c86e26fb25238d0e69f011edc4c6df5ae71119d7cb98ed9b87393c1e"),
	},
	{
		name: "post-header-key-sort",
		req:  "POST / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1:value1\nX-Amz-Date:20150830T123600Z",
		want: authz("service", "host;my-header1;x-amz-date", "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c"),
	},
	{
		name: "post-header-value-case",
		req:  "POST / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1:VALUE1\nX-Amz-Date:20150830T123600Z",
		want: authz("service", "host;my-header1;x-amz-date", "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d"),
	},
	{
		name: "post-sts-header-before",
		req: "POST / HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z\nX-Amz-Security-Token:" +
			"AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuw" +
			"thAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVX" +
			"AkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==",
		want: authz("service", "host;x-amz-date;x-amz-security-token", "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"),
	},
	{
		name: "post-x-www-form-urlencoded",
		req: "POST / HTTP/1.1\nContent-Type:application/x-www-form-urlencoded\nHost:example.amazonaws.com\n" +
			"X-Amz-Date:20150830T123600Z\nContent-Length:13",
		body: "Param1=value1",
		want: authz("service", "content-type;host;x-amz-date", "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"),
	},
	{
		name: "post-x-www-form-urlencoded-parameters",
		req: "POST / HTTP/1.1\nContent-Type:application/x-www-form-urlencoded; charset=utf8\nHost:example.amazonaws.com\n" +
			"X-Amz-Date:20150830T123600Z\nContent-Length:13",
		body: "Param1=value1",
		want: authz("service", "content-type;host;x-amz-date", "1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe"),
	},
	{
		// The newer suite's variant, signing content-length and
		// x-amz-content-sha256 too: Verify must take both as they came.
		name: "post-x-www-form-urlencoded-signed-length",
		req: "POST / HTTP/1.1\nContent-Type:application/x-www-form-urlencoded\nHost:example.amazonaws.com\n" +
			"X-Amz-Date:20150830T123600Z\nContent-Length:13\n" +
			"X-Amz-Content-Sha256:9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
		body: "Param1=value1",
		canonical: "POST\n/\n\ncontent-length:13\ncontent-type:application/x-www-form-urlencoded\nhost:example.amazonaws.com\n" +
			"x-amz-content-sha256:9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e\nx-amz-date:20150830T123600Z\n\n" +
			"content-length;content-type;host;x-amz-content-sha256;x-amz-date\n" +
			"9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
		want: authz("service", "content-length;content-type;host;x-amz-content-sha256;x-amz-date",
			"d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b"),
		verifyOnly: true,
	},
}

func TestSuiteVectors(t *testing.T) {
	for _, tc := range suiteVectors {
		t.Run(tc.name, func(t *testing.T) {
			service := tc.service
			if service == "" {
				service = "service"
			}
			a, e := parseAuthorization(tc.want)
			if e != nil {
				t.Fatalf("parse the vector's own Authorization: %v", e)
			}

			r := readRequest(t, tc.req+"\n\n"+tc.body)
			canonical, err := canonicalRequest(r, a.signedHeaders, hexSHA256([]byte(tc.body)))
			if err != nil {
				t.Fatalf("canonicalRequest: %v", err)
			}
			if tc.canonical != "" && canonical != tc.canonical {
				t.Errorf("canonical request:\n%s\nwant:\n%s", canonical, tc.canonical)
			}
			scope := credentialScope("20150830", "us-east-1", service)
			if sts := stringToSign(suiteDate, scope, canonical); tc.sts != "" && sts != tc.sts {
				t.Errorf("string to sign:\n%s\nwant:\n%s", sts, tc.sts)
			}

			if !tc.verifyOnly {
				if err := Sign(r, []byte(tc.body), suiteKey, suiteSecret, "us-east-1", service, suiteTime); err != nil {
					t.Fatalf("Sign: %v", err)
				}
				if got := r.Header.Get("Authorization"); got != tc.want {
					t.Errorf("Sign made Authorization\n%s\nwant\n%s", got, tc.want)
				}
			}

			r = readRequest(t, tc.req+"\nAuthorization: "+tc.want+"\n\n"+tc.body)
			v := &Verifier{
				Keys:    keys{suiteKey: {suiteSecret, "example-user"}},
				Service: service,
				Now:     func() time.Time { return suiteTime },
			}
			user, err := v.Verify(r)
			if err != nil || user != "example-user" {
				t.Fatalf("Verify = %q, %v; want example-user, nil", user, err)
			}
			if got, _ := io.ReadAll(r.Body); string(got) != tc.body {
				t.Errorf("body after Verify = %q, want %q", got, tc.body)
			}
		})
	}
}

// TestSigningKey checks the derivation against the SigV4 documentation's
// worked example (us-east-1, iam, 20150830).
func TestSigningKey(t *testing.T) {
	const want = "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
	if got := hex.EncodeToString(signingKey(suiteSecret, "20150830", "us-east-1", "iam")); got != want {
		t.Errorf("signing key = %s, want %s", got, want)
	}
}

func TestCanonicalURI(t *testing.T) {
	for _, tc := range []struct{ wire, want string }{
		{"", "/"},
		{"/", "/"},
		{"/v1/listjobs", "/v1/listjobs"},
		{"//example//", "/example/"},
		{"/example/..", "/"},
		{"/a/./b/../c/", "/a/c/"},
		{"/../..", "/"},
		// The wire path is encoded once more, as botocore does for every
		// service but S3.
		{"/%E1%88%B4", "/%25E1%2588%25B4"},
		{"/example%20space/", "/example%2520space/"},
		{"/a%2Fb", "/a%252Fb"},
		{"/$delete", "/%24delete"},
		{"/-._~", "/-._~"},
	} {
		if got := canonicalURI(tc.wire); got != tc.want {
			t.Errorf("canonicalURI(%q) = %q, want %q", tc.wire, got, tc.want)
		}
	}
}

func TestCanonicalQuery(t *testing.T) {
	for _, tc := range []struct{ raw, want string }{
		{"", ""},
		{"b=2&a=1", "a=1&b=2"},
		{"a=2&a=1", "a=1&a=2"},
		{"a-b=1&a=2", "a=2&a-b=1"},
		{"flag", "flag="},
		{"a=x+y", "a=x%20y"},
		{"a=x%20y", "a=x%20y"},
		{"a=%2b", "a=%2B"},
		{"a=%7e", "a=~"},
		{"k=a/b", "k=a%2Fb"},
	} {
		got, err := canonicalQuery(tc.raw)
		if err != nil || got != tc.want {
			t.Errorf("canonicalQuery(%q) = %q, %v; want %q, nil", tc.raw, got, err, tc.want)
		}
	}
	if _, err := canonicalQuery("a=%zz"); err == nil {
		t.Errorf("canonicalQuery(%q) = nil error, want a decode error", "a=%zz")
	}
}

// TestSignLikeAWSCLI checks that Sign signs what awscli 2.9 signs for
// `aws batch list-jobs`: content-type, host and x-amz-date, with no
// X-Amz-Content-Sha256.
func TestSignLikeAWSCLI(t *testing.T) {
	r, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:8080/v1/listjobs", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("User-Agent", "shoal-test")
	if err := Sign(r, []byte(`{"jobQueue": "q"}`), "AKIDTEST", "secret", "us-east-1", "batch", suiteTime); err != nil {
		t.Fatal(err)
	}
	got := r.Header.Get("Authorization")
	if !strings.Contains(got, "Credential=AKIDTEST/20150830/us-east-1/batch/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=") {
		t.Errorf("Authorization = %q, want content-type;host;x-amz-date signed under a batch scope", got)
	}
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" {
		t.Errorf("X-Amz-Content-Sha256 = %q, want none, as awscli sends none for batch", h)
	}
	if r.ContentLength != 17 {
		t.Errorf("ContentLength = %d, want 17", r.ContentLength)
	}
}

// Round trips: a request signed by Sign, sent over the wire and verified.
const (
	rtKey    = "AKIDSHOALTEST"
	rtSecret = "shoal/secret+key"
	rtUser   = "alice"
	rtBody   = `{"jobName": "x", "jobQueue": "q", "jobDefinition": "d"}`
)

var rtTime = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// signed returns a batch submit-job request signed at rtTime by Sign, as
// the server reads it off the wire. edit, when set, changes the client
// request before it is signed.
func signed(t *testing.T, key, secret string, edit func(*http.Request)) *http.Request {
	t.Helper()
	r, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:8080/v1/submitjob", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/json")
	if edit != nil {
		edit(r)
	}
	if err := Sign(r, []byte(rtBody), key, secret, "us-east-1", "batch", rtTime); err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return wire(t, r)
}

// wire writes the client request r as HTTP/1.1 and reads it back as a
// server does.
func wire(t *testing.T, r *http.Request) *http.Request {
	t.Helper()
	var buf bytes.Buffer
	if err := r.Write(&buf); err != nil {
		t.Fatalf("write request: %v", err)
	}
	sr, err := http.ReadRequest(bufio.NewReader(&buf))
	if err != nil {
		t.Fatalf("read request back: %v", err)
	}
	return sr
}

// setBody replaces the body of the server request r.
func setBody(r *http.Request, body string) {
	r.Body = io.NopCloser(strings.NewReader(body))
	r.ContentLength = int64(len(body))
	r.Header.Set("Content-Length", strconv.Itoa(len(body)))
}

// setAuthPart replaces old with new in r's Authorization header.
func setAuthPart(r *http.Request, old, new string) {
	r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), old, new, 1))
}

func TestRoundTrip(t *testing.T) {
	otherHash := hexSHA256([]byte("something else"))
	cases := []struct {
		name string
		req  func(t *testing.T) *http.Request
		v    func(v *Verifier)
		// wantCode "" means Verify must succeed with rtUser.
		wantCode   string
		wantStatus int
		wantMsg    string // a substring of Error.Message, where it matters
	}{
		{name: "ok", req: func(t *testing.T) *http.Request { return signed(t, rtKey, rtSecret, nil) }},
		{
			name: "unsigned header changed",
			req: func(t *testing.T) *http.Request {
				r := signed(t, rtKey, rtSecret, nil)
				r.Header.Set("User-Agent", "someone else")
				r.Header.Set("Accept-Encoding", "gzip")
				return r
			},
		},
		{
			name: "clock 14 minutes ahead",
			req:  func(t *testing.T) *http.Request { return signed(t, rtKey, rtSecret, nil) },
			v:    func(v *Verifier) { v.Now = func() time.Time { return rtTime.Add(14 * time.Minute) } },
		},
		{
			name: "correct x-amz-content-sha256",
			req: func(t *testing.T) *http.Request {
				return signed(t, rtKey, rtSecret, func(r *http.Request) {
					r.Header.Set("X-Amz-Content-Sha256", hexSHA256([]byte(rtBody)))
				})
			},
		},
		{
			name: "query string in another order",
			req: func(t *testing.T) *http.Request {
				r := signed(t, rtKey, rtSecret, func(r *http.Request) { r.URL.RawQuery = "b=2&a=1" })
				r.URL.RawQuery = "a=1&b=2"
				return r
			},
		},
		{
			name: "tampered body",
			req: func(t *testing.T) *http.Request {
				r := signed(t, rtKey, rtSecret, nil)
				setBody(r, strings.Replace(rtBody, `"q"`, `"r"`, 1))
				return r
			},
			wantCode: CodeInvalidSignature, wantStatus: 403, wantMsg: "does not match the signature you provided",
		},
		{
			name: "tampered signed header",
			req: func(t *testing.T) *http.Request {
				r := signed(t, rtKey, rtSecret, nil)
				r.Header.Set("Content-Type", "text/plain")
				return r
			},
			wantCode: CodeInvalidSignature, wantStatus: 403,
		},
		{
			name: "signed header dropped",
			req: func(t *testing.T) *http.Request {
				r := signed(t, rtKey, rtSecret, nil)
				r.Header.Del("Content-Type")
				return r
			},
			wantCode: CodeInvalidSignature, wantStatus: 403,
		},
		{
			name: "tampered host",
			req: func(t *testing.T) *http.Request {
				r := signed(t, rtKey, rtSecret, nil)
				r.Host = "127.0.0.1:9090"
				return r
			},
			wantCode: CodeInvalidSignature, wantStatus: 403,
		},
		{
			name: "tampered path",
			req: func(t *testing.T) *http.Request {
				r := signed(t, rtKey, rtSecret, nil)
				r.RequestURI = "/v1/canceljob"
				r.URL.Path = "/v1/canceljob"
				return r
			},
			wantCode: CodeInvalidSignature, wantStatus: 403,
		},
		{
			name: "tampered method",
			req: func(t *testing.T) *http.Request {
				r := signed(t, rtKey, rtSecret, nil)
				r.Method = http.MethodPut
				return r
			},
			wantCode: CodeInvalidSignature, wantStatus: 403,
		},
		{
			name: "query added",
			req: func(t *testing.T) *http.Request {
				r := signed(t, rtKey, rtSecret, nil)
				r.URL.RawQuery = "force=true"
				return r
			},
			wantCode: CodeInvalidSignature, wantStatus: 403,
		},
		{
			name: "tampered x-amz-date",
			req: func(t *testing.T) *http.Request {
				r := signed(t, rtKey, rtSecret, nil)
				r.Header.Set("X-Amz-Date", "20260301T100100Z")
				return r
			},
			wantCode: CodeInvalidSignature, wantStatus: 403,
		},
		{
			name:     "wrong secret",
			req:      func(t *testing.T) *http.Request { return signed(t, rtKey, "not the secret", nil) },
			wantCode: CodeInvalidSignature, wantStatus: 403, wantMsg: "Check your AWS Secret Access Key",
		},
		{
			name:     "unknown key",
			req:      func(t *testing.T) *http.Request { return signed(t, "AKIDNOBODY", rtSecret, nil) },
			wantCode: CodeUnrecognizedClient, wantStatus: 403, wantMsg: "The security token included in the request is invalid.",
		},
		{
			name:     "no key store",
			req:      func(t *testing.T) *http.Request { return signed(t, rtKey, rtSecret, nil) },
			v:        func(v *Verifier) { v.Keys = nil },
			wantCode: CodeUnrecognizedClient, wantStatus: 403,
		},
		{
			name: "missing authorization",
			req: func(t *testing.T) *http.Request {
				r := signed(t, rtKey, rtSecret, nil)
				r.Header.Del("Authorization")
				return r
			},
			wantCode: CodeMissingAuthenticationToken, wantStatus: 403,
		},
		{
			name: "two authorization headers",
			req: func(t *testing.T) *http.Request {
				r := signed(t, rtKey, rtSecret, nil)
				r.Header.Add("Authorization", r.Header.Get("Authorization"))
				return r
			},
			wantCode: CodeIncompleteSignature, wantStatus: 400,
		},
		{
			name: "other algorithm",
			req: func(t *testing.T) *http.Request {
				r := signed(t, rtKey, rtSecret, nil)
				setAuthPart(r, "AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256")
				return r
			},
			wantCode: CodeIncompleteSignature, wantStatus: 400,
		},
		{
			name: "no signature part",
			req: func(t *testing.T) *http.Request {
				r := signed(t, rtKey, rtSecret, nil)
				a := r.Header.Get("Authorization")
				r.Header.Set("Authorization", a[:strings.Index(a, ", Signature=")])
				return r
			},
			wantCode: CodeIncompleteSignature, wantStatus: 400, wantMsg: "'Signature'",
		},
		{
			name: "short credential",
			req: func(t *testing.T) *http.Request {
				r := signed(t, rtKey, rtSecret, nil)
				setAuthPart(r, "/us-east-1/batch/aws4_request", "/us-east-1/batch")
				return r
			},
			wantCode: CodeIncompleteSignature, wantStatus: 400,
		},
		{
			name: "unsorted signed headers",
			req: func(t *testing.T) *http.Request {
				r := signed(t, rtKey, rtSecret, nil)
				setAuthPart(r, "content-type;host;x-amz-date", "host;content-type;x-amz-date")
				return r
			},
			wantCode: CodeIncompleteSignature, wantStatus: 400,
		},
		{
			name: "signature not hex",
			req: func(t *testing.T) *http.Request {
				r := signed(t, rtKey, rtSecret, nil)
				setAuthPart(r, "Signature=", "Signature=zz")
				return r
			},
			wantCode: CodeIncompleteSignature, wantStatus: 400,
		},
		{
			name: "missing x-amz-date",
			req: func(t *testing.T) *http.Request {
				r := signed(t, rtKey, rtSecret, nil)
				r.Header.Del("X-Amz-Date")
				return r
			},
			wantCode: CodeIncompleteSignature, wantStatus: 400,
		},
		{
			name: "x-amz-date not ISO 8601 basic",
			req: func(t *testing.T) *http.Request {
				r := signed(t, rtKey, rtSecret, nil)
				r.Header.Set("X-Amz-Date", "2026-03-01T10:00:00Z")
				return r
			},
			wantCode: CodeIncompleteSignature, wantStatus: 400,
		},
		{
			name: "scope date is not the request date",
			req: func(t *testing.T) *http.Request {
				r := signed(t, rtKey, rtSecret, nil)
				setAuthPart(r, "/20260301/", "/20260302/")
				return r
			},
			wantCode: CodeInvalidSignature, wantStatus: 403, wantMsg: "Date in Credential scope does not match",
		},
		{
			name:     "scoped to another service",
			req:      func(t *testing.T) *http.Request { return signed(t, rtKey, rtSecret, nil) },
			v:        func(v *Verifier) { v.Service = "ecs" },
			wantCode: CodeInvalidSignature, wantStatus: 403, wantMsg: "scoped to correct service: 'ecs'",
		},
		{
			name: "host not signed",
			req: func(t *testing.T) *http.Request {
				r := signed(t, rtKey, rtSecret, nil)
				setAuthPart(r, "content-type;host;x-amz-date", "content-type;x-amz-date")
				return r
			},
			wantCode: CodeInvalidSignature, wantStatus: 403, wantMsg: "'Host' must be a 'SignedHeader'",
		},
		{
			name:     "stale date",
			req:      func(t *testing.T) *http.Request { return signed(t, rtKey, rtSecret, nil) },
			v:        func(v *Verifier) { v.Now = func() time.Time { return rtTime.Add(16 * time.Minute) } },
			wantCode: CodeInvalidSignature, wantStatus: 403,
			wantMsg: "Signature expired: 20260301T100000Z is now earlier than 20260301T100100Z (20260301T101600Z - 15 min.)",
		},
		{
			name:     "date from the future",
			req:      func(t *testing.T) *http.Request { return signed(t, rtKey, rtSecret, nil) },
			v:        func(v *Verifier) { v.Now = func() time.Time { return rtTime.Add(-16 * time.Minute) } },
			wantCode: CodeInvalidSignature, wantStatus: 403, wantMsg: "Signature not yet current",
		},
		{
			name: "tighter skew",
			req:  func(t *testing.T) *http.Request { return signed(t, rtKey, rtSecret, nil) },
			v: func(v *Verifier) {
				v.MaxSkew = time.Minute
				v.Now = func() time.Time { return rtTime.Add(2 * time.Minute) }
			},
			wantCode: CodeInvalidSignature, wantStatus: 403, wantMsg: "(20260301T100200Z - 1 min.)",
		},
		{
			name: "x-amz-content-sha256 of another body",
			req: func(t *testing.T) *http.Request {
				return signed(t, rtKey, rtSecret, func(r *http.Request) { r.Header.Set("X-Amz-Content-Sha256", otherHash) })
			},
			wantCode: CodeContentSHA256Mismatch, wantStatus: 400,
		},
		{
			name: "x-amz-content-sha256 added unsigned",
			req: func(t *testing.T) *http.Request {
				r := signed(t, rtKey, rtSecret, nil)
				r.Header.Set("X-Amz-Content-Sha256", otherHash)
				return r
			},
			wantCode: CodeContentSHA256Mismatch, wantStatus: 400,
		},
		{
			name: "unsigned payload",
			req: func(t *testing.T) *http.Request {
				return signed(t, rtKey, rtSecret, func(r *http.Request) { r.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD") })
			},
			wantCode: CodeContentSHA256Mismatch, wantStatus: 400,
		},
		{
			name:     "body too large",
			req:      func(t *testing.T) *http.Request { return signed(t, rtKey, rtSecret, nil) },
			v:        func(v *Verifier) { v.MaxBodyBytes = 10 },
			wantCode: CodeRequestTooLarge, wantStatus: 413,
		},
		{
			name: "malformed query escape",
			req: func(t *testing.T) *http.Request {
				r := signed(t, rtKey, rtSecret, nil)
				r.URL.RawQuery = "a=%zz"
				return r
			},
			wantCode: CodeMalformedQueryString, wantStatus: 400,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := &Verifier{
				Keys:    keys{rtKey: {rtSecret, rtUser}},
				Service: "batch",
				Now:     func() time.Time { return rtTime },
			}
			if tc.v != nil {
				tc.v(v)
			}
			r := tc.req(t)
			user, err := v.Verify(r)
			if tc.wantCode == "" {
				if err != nil || user != rtUser {
					t.Fatalf("Verify = %q, %v; want %q, nil", user, err, rtUser)
				}
				if got, _ := io.ReadAll(r.Body); string(got) != rtBody {
					t.Errorf("body after Verify = %q, want %q", got, rtBody)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Verify = %q, %v; want an *Error with code %s", user, err, tc.wantCode)
			}
			if e.Code != tc.wantCode || e.Status != tc.wantStatus || !strings.Contains(e.Message, tc.wantMsg) {
				t.Errorf("Verify error = {%s %d %q}; want {%s %d ...%q...}",
					e.Code, e.Status, e.Message, tc.wantCode, tc.wantStatus, tc.wantMsg)
			}
			if user != "" {
				t.Errorf("Verify returned user %q with an error; want none", user)
			}
		})
	}
}

func TestSignRejects(t *testing.T) {
	for _, tc := range []struct{ name, key, secret, region, service, url string }{
		{"empty key", "", "s", "us-east-1", "batch", "http://h/"},
		{"empty secret", "k", "", "us-east-1", "batch", "http://h/"},
		{"slash in region", "k", "s", "us/east", "batch", "http://h/"},
		{"empty service", "k", "s", "us-east-1", "", "http://h/"},
		{"bad query escape", "k", "s", "us-east-1", "batch", "http://h/?a=%zz"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := http.NewRequest(http.MethodGet, "http://h/", nil)
			if err != nil {
				t.Fatal(err)
			}
			_, q, _ := strings.Cut(tc.url, "?")
			r.URL.RawQuery = q
			if err := Sign(r, nil, tc.key, tc.secret, tc.region, tc.service, rtTime); err == nil {
				t.Errorf("Sign = nil, want an error")
			}
		})
	}
}
