package sigv4

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// awsCLI is Debian's awscli 2. The first aws on PATH may be another one
// (pyenv's awscli 1.x), so the path is fixed.
const awsCLI = "/usr/bin/aws"

// seen is what the test server's handler saw of one request.
type seen struct {
	path, user, code string
	body             map[string]any
	authorization    string
	contentSHA256    string
}

// TestAWSCLI runs the real aws CLI against a server that verifies with a
// Verifier, over TLS with the server's CA given as --ca-bundle (as users
// reach a controller): a good key is let through as its user, with the
// body still readable; a wrong secret or unknown key comes back to the CLI
// as the AWS error it prints.
func TestAWSCLI(t *testing.T) {
	if _, err := os.Stat(awsCLI); err != nil {
		t.Skipf("%s not found (%v): install Debian's awscli (apt-get install -y awscli) to run the CLI against the verifier", awsCLI, err)
	}
	keyID, secret := "AKIA"+strings.ToUpper(randHex(t, 8)), randHex(t, 20)
	v := &Verifier{Keys: keys{keyID: {secret, "carol"}}, Service: "batch"}

	var (
		mu   sync.Mutex
		reqs []seen
	)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := seen{path: r.URL.Path, authorization: r.Header.Get("Authorization"), contentSHA256: r.Header.Get("X-Amz-Content-Sha256")}
		user, err := v.Verify(r)
		s.user = user
		if err == nil {
			raw, rerr := io.ReadAll(r.Body)
			if rerr != nil || json.Unmarshal(raw, &s.body) != nil {
				s.code = "body not readable after Verify"
			}
		}
		mu.Lock()
		reqs = append(reqs, s)
		mu.Unlock()

		var e *Error
		switch {
		case errors.As(err, &e):
			e.WriteResponse(w)
		case err != nil:
			http.Error(w, err.Error(), http.StatusInternalServerError)
		case r.URL.Path == "/v1/submitjob":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"jobArn":"arn:aws:batch:us-east-1:000000000000:job/1","jobName":"x","jobId":"1"}`)
		default:
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"jobSummaryList":[]}`)
		}
	}))
	defer srv.Close()
	caBundle := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caBundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}

	listJobs := []string{"batch", "list-jobs", "--job-queue", "q"}
	submitJob := []string{"batch", "submit-job", "--job-name", "x", "--job-queue", "q", "--job-definition", "d"}
	cases := []struct {
		name         string
		keyID        string
		secret       string
		args         []string
		wantPath     string
		wantBody     map[string]any
		wantErrCode  string // "" means exit 0 with the handler seeing carol
		wantInStdout string
	}{
		{
			name: "list-jobs", keyID: keyID, secret: secret, args: listJobs,
			wantPath: "/v1/listjobs", wantBody: map[string]any{"jobQueue": "q"}, wantInStdout: "jobSummaryList",
		},
		{
			name: "submit-job", keyID: keyID, secret: secret, args: submitJob,
			wantPath: "/v1/submitjob", wantBody: map[string]any{"jobName": "x", "jobQueue": "q", "jobDefinition": "d"},
			wantInStdout: `"jobId": "1"`,
		},
		{name: "wrong secret", keyID: keyID, secret: secret + "x", args: listJobs, wantPath: "/v1/listjobs", wantErrCode: CodeInvalidSignature},
		{name: "wrong secret with a body", keyID: keyID, secret: randHex(t, 20), args: submitJob, wantPath: "/v1/submitjob", wantErrCode: CodeInvalidSignature},
		{name: "unknown key", keyID: "AKIANOBODY0000000000", secret: secret, args: listJobs, wantPath: "/v1/listjobs", wantErrCode: CodeUnrecognizedClient},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			reqs = nil
			mu.Unlock()

			stdout, stderr, exitErr := runAWS(t, srv.URL, caBundle, tc.keyID, tc.secret, tc.args...)

			mu.Lock()
			got := append([]seen(nil), reqs...)
			mu.Unlock()
			if len(got) != 1 {
				t.Fatalf("server saw %d requests, want 1 (the CLI must not retry); stderr:\n%s", len(got), stderr)
			}
			s := got[0]
			t.Logf("awscli sent Authorization: %s; X-Amz-Content-Sha256: %q", s.authorization, s.contentSHA256)
			if s.path != tc.wantPath {
				t.Errorf("server saw path %q, want %q", s.path, tc.wantPath)
			}

			if tc.wantErrCode == "" {
				if exitErr != nil {
					t.Fatalf("aws %s: %v, want exit 0; stderr:\n%s", strings.Join(tc.args, " "), exitErr, stderr)
				}
				if s.user != "carol" || s.code != "" {
					t.Errorf("handler saw user %q (%s), want carol", s.user, s.code)
				}
				for k, want := range tc.wantBody {
					if s.body[k] != want {
						t.Errorf("handler read body field %s = %v, want %v (body %v)", k, s.body[k], want, s.body)
					}
				}
				if !strings.Contains(stdout, tc.wantInStdout) {
					t.Errorf("aws stdout = %q, want it to contain %q", stdout, tc.wantInStdout)
				}
				return
			}
			var ee *exec.ExitError
			if !errors.As(exitErr, &ee) || ee.ExitCode() == 0 {
				t.Fatalf("aws %s: %v, want a non-zero exit; stdout:\n%s", strings.Join(tc.args, " "), exitErr, stdout)
			}
			t.Logf("aws stderr: %s", strings.TrimSpace(stderr))
			if want := "(" + tc.wantErrCode + ")"; !strings.Contains(stderr, want) {
				t.Errorf("aws stderr = %q, want it to contain %q", stderr, want)
			}
			if s.user != "" {
				t.Errorf("handler saw user %q on a rejected request, want none", s.user)
			}
		})
	}
}

// runAWS runs the aws CLI against endpoint, trusting the CA in caBundle,
// with only the given static credentials: no config, credentials file,
// profile or instance metadata from the machine running the test.
func runAWS(t *testing.T, endpoint, caBundle, keyID, secret string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	dir := t.TempDir()
	config := filepath.Join(dir, "config")
	creds := filepath.Join(dir, "credentials")
	for _, f := range []string{config, creds} {
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, awsCLI, append([]string{"--endpoint-url", endpoint, "--ca-bundle", caBundle, "--region", "us-east-1"}, args...)...)
	cmd.Env = []string{
		"PATH=/usr/bin:/bin",
		"HOME=" + dir,
		"AWS_ACCESS_KEY_ID=" + keyID,
		"AWS_SECRET_ACCESS_KEY=" + secret,
		"AWS_CONFIG_FILE=" + config,
		"AWS_SHARED_CREDENTIALS_FILE=" + creds,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_PAGER=",
		"AWS_MAX_ATTEMPTS=1",
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

func randHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
