package core

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/shoal-batch/shoal/api"
)

func benchSubmit() api.SubmitJobRequest {
	env := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	return api.SubmitJobRequest{JobSpec: api.JobSpec{Name: "wrap", Script: "#!/bin/sh\ntrue\n", Env: env, Held: true}}
}

// BenchmarkEncodeSubmit compares the encoders once encoding/json's are
// built: the reason encodeRequest uses the direct one only once per type.
func BenchmarkEncodeSubmit(b *testing.B) {
	req := benchSubmit()
	b.Run("direct", func(b *testing.B) {
		for b.Loop() {
			encodeJSON(req)
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			json.Marshal(req)
		}
	})
}
