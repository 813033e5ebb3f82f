package raftfsm

import (
	"reflect"
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// fillNonZero sets v (settable) to a value that is not its zero.
func fillNonZero(t *testing.T, v reflect.Value, name string) {
	t.Helper()
	switch v.Kind() {
	case reflect.String:
		v.SetString("x-" + name)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(-7)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1.5)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(7)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			fillNonZero(t, s.Index(i), name)
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fillNonZero(t, k, name+"-k")
		fillNonZero(t, e, name+"-v")
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fillNonZero(t, p.Elem(), name)
		v.Set(p)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fillNonZero(t, v.Field(i), name+"."+v.Type().Field(i).Name)
			}
		}
	default:
		t.Fatalf("field %s: kind %s: teach fillNonZero (and the submit's compact form) about it", name, v.Kind())
	}
}

// TestSubmitBinEveryField sets each field of api.Job in turn: a field of
// what a new job carries (its spec, owner and status reason) reads back
// from the compact form as it was; any other makes EncodeSubmit fall back
// to JSON. A field added to api.Job fails here until the compact form
// carries it or binEncodable refuses it.
func TestSubmitBinEveryField(t *testing.T) {
	carried := map[string]bool{"User": true, "UID": true, "GID": true, "Groups": true, "StatusReason": true}
	for _, f := range reflect.VisibleFields(reflect.TypeFor[api.Job]()) {
		if f.Anonymous || !f.IsExported() {
			continue
		}
		inSpec := len(f.Index) == 2 && f.Index[0] == 1 // api.Job.JobSpec.X
		t.Run(f.Name, func(t *testing.T) {
			var j api.Job
			fillNonZero(t, reflect.ValueOf(&j).Elem().FieldByIndex(f.Index), f.Name)
			cmd := SubmitCmd{Jobs: []api.Job{j}, Now: 5}
			entry, err := EncodeSubmit(&cmd, nil)
			if err != nil {
				t.Fatalf("EncodeSubmit: %v", err)
			}
			if !inSpec && !carried[f.Name] {
				if Op(entry[0]) != OpSubmit {
					t.Fatalf("a job with %s set: encoded as op %d, want the JSON OpSubmit (%d): the compact form does not carry it", f.Name, entry[0], OpSubmit)
				}
				return
			}
			if Op(entry[0]) != OpSubmitBin {
				t.Fatalf("a job with %s set: encoded as op %d, want OpSubmitBin (%d)", f.Name, entry[0], OpSubmitBin)
			}
			got := decodeSubmitBin(entry[1:], nil)
			if len(got.body.Jobs) != 1 || !reflect.DeepEqual(*got.body.Jobs[0], j) {
				t.Fatalf("%s does not read back:\n got %+v\nwant %+v", f.Name, got.body.Jobs, j)
			}
		})
	}
}

// TestSubmitBinEveryFieldAtOnce: all carried fields set together, with
// arrays, ended jobs and a token.
func TestSubmitBinEveryFieldAtOnce(t *testing.T) {
	var j api.Job
	fillNonZero(t, reflect.ValueOf(&j.JobSpec).Elem(), "spec")
	j.User, j.UID, j.GID, j.Groups, j.StatusReason = "u", 1000, 100, []uint32{4, 5}, "why"
	j.Env = map[string]string{}
	for _, k := range []string{"A", "B", "C", "D", "E", "F", "G", "H", "I", "J"} {
		j.Env[k] = k + "-value"
	}
	cmd := SubmitCmd{Jobs: []api.Job{j, {JobSpec: api.JobSpec{Command: []string{}}}}, Now: -3,
		Arrays: []ArraySpec{{Job: 1, Indexes: []int{0, 5, 9}, MaxRunning: 2}},
		Ended:  []EndedJob{{ID: 9, State: api.StateSucceeded, ArrayCount: 2}}}
	tok := &SubmitToken{UID: 1000, Token: "tok", Hash: "hash"}
	entry, err := EncodeSubmit(&cmd, tok)
	if err != nil || Op(entry[0]) != OpSubmitBin {
		t.Fatalf("EncodeSubmit: op %d, %v; want OpSubmitBin", entry[0], err)
	}
	got := decodeSubmitBin(entry[1:], newShared())
	want := submitBodyOf(cmd)
	if !reflect.DeepEqual(got.body, want) || !reflect.DeepEqual(got.token, tok) {
		t.Fatalf("read back:\n got %+v %+v\nwant %+v %+v", got.body, got.token, want, tok)
	}
}
