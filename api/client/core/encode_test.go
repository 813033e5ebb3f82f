package core

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// awkward holds what a JSON encoder can get wrong in a string.
const awkward = "a\"b\\c\nd\re\tf\x01g\x1f<h>&i\u2028j\u2029k é\xffl"

// fill sets every field v reaches to something not empty: strings to
// awkward ones, numbers to their kind's extremes, two elements in slices
// and maps, pointers to filled values.
func fill(v reflect.Value, depth int) {
	if depth > 6 {
		return
	}
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(-1 << (v.Type().Bits() - 1))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		v.SetUint(1<<v.Type().Bits() - 1)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1.5)
	case reflect.String:
		v.SetString(awkward + v.Type().Name())
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem(), depth+1)
		v.Set(p)
	case reflect.Interface:
		if v.NumMethod() == 0 {
			v.Set(reflect.ValueOf(awkward))
		}
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			fill(s.Index(i), depth+1)
		}
		v.Set(s)
	case reflect.Array:
		for i := range v.Len() {
			fill(v.Index(i), depth+1)
		}
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for i := range 2 {
			k := reflect.New(v.Type().Key()).Elem()
			fill(k, depth+1)
			if k.Kind() == reflect.String {
				k.SetString(k.String() + string(rune('0'+i)))
			}
			e := reflect.New(v.Type().Elem()).Elem()
			fill(e, depth+1)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), depth+1)
			}
		}
	}
}

// The direct encoder writes the same JSON values as encoding/json for
// the requests the client sends, empty and with every field set (new
// fields included, whatever their type: where the direct encoder cannot,
// Call uses encoding/json), and takes the direct way for a submit.
func TestEncodeJSONAsEncodingJSON(t *testing.T) {
	for _, v := range []any{
		api.SubmitJobRequest{}, api.ListJobsRequest{}, api.WaitJobRequest{}, api.StopJobRequest{},
		api.StopJobsRequest{}, api.SignalJobRequest{}, api.HoldJobsRequest{}, api.UpdateJobRequest{},
		api.UpdateNodeRequest{}, api.LogsRequest{}, api.CrontabPutRequest{}, api.CrontabRequest{},
		api.FetchImageRequest{}, api.TopJobsRequest{}, api.Job{}, api.Node{}, api.ClusterInfo{},
		struct{}{}, map[string]any{"a": 1, "b": []string{awkward}, "c": nil},
		struct {
			A []int
			B [2]uint32
			C []int8
			D []uint64
		}{[]int{-3, 0, 9}, [2]uint32{1, 4294967295}, []int8{-128, 127}, []uint64{18446744073709551615}},
	} {
		empty := reflect.New(reflect.TypeOf(v)).Elem()
		full := reflect.New(reflect.TypeOf(v)).Elem()
		fill(full, 0)
		for _, x := range []reflect.Value{empty, full} {
			want, err := json.Marshal(x.Interface())
			if err != nil {
				t.Fatalf("encoding/json %T: %v", v, err)
			}
			got, err := encodeJSON(x.Interface())
			if err == errUnsupported {
				t.Logf("%T: the direct encoder hands it to encoding/json", v)
				continue
			}
			if err != nil {
				t.Fatalf("encodeJSON %T: %v", v, err)
			}
			var g, w any
			if err := json.Unmarshal(got, &g); err != nil {
				t.Fatalf("encodeJSON %T wrote invalid JSON: %v\n%s", v, err, got)
			}
			json.Unmarshal(want, &w)
			if !reflect.DeepEqual(g, w) {
				t.Errorf("%T: encodeJSON wrote\n%s\nwant the value of encoding/json's\n%s", v, got, want)
			}
		}
	}
	full := api.SubmitJobRequest{}
	fill(reflect.ValueOf(&full).Elem(), 0)
	if _, err := encodeJSON(full); err != nil {
		t.Errorf("encodeJSON of a submit: %v; want the direct way (the first encoding/json.Marshal of one costs each sbatch 0.2 ms)", err)
	}
}

// What the direct encoder leaves to encoding/json it reports, rather than
// writing something else.
func TestEncodeJSONUnsupported(t *testing.T) {
	type inner struct{ X string }
	type dup struct {
		inner
		X string // encoding/json's rules pick this one
	}
	type opt struct {
		N int `json:"n,string"`
	}
	for _, v := range []any{dup{}, opt{}, []byte("x"), map[int]string{1: "a"}, 1.5, struct{ T json.RawMessage }{T: json.RawMessage(`{"a":1}`)}} {
		got, err := encodeJSON(v)
		if _, isRaw := v.(struct{ T json.RawMessage }); isRaw {
			// RawMessage is a json.Marshaler: written as it is.
			if err != nil || string(got) != `{"T":{"a":1}}` {
				t.Errorf("encodeJSON(%#v) = %s, %v; want the raw message", v, got, err)
			}
			continue
		}
		if err != errUnsupported {
			t.Errorf("encodeJSON(%#v) = %s, %v; want errUnsupported", v, got, err)
		}
	}
	if got := string(appendString(nil, awkward)); !strings.Contains(got, `\u2028`) || !strings.Contains(got, `\ufffd`) || !json.Valid([]byte(got)) {
		t.Errorf("appendString(%q) = %s; want valid JSON with U+2028 escaped and the bad byte as U+FFFD", awkward, got)
	}
}

// The first request of a type is encoded directly, later ones by
// encoding/json (faster once it has built its encoders); both are the
// same value.
func TestEncodeRequestOnceDirect(t *testing.T) {
	type probe struct {
		S string `json:"s,omitempty"`
	}
	first, err := encodeRequest(probe{S: awkward})
	if err != nil {
		t.Fatal(err)
	}
	second, err := encodeRequest(probe{S: awkward})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(probe{S: awkward})
	if string(second) != string(want) || string(first) == string(want) {
		t.Errorf("first %s, second %s; want the direct encoding first (no HTML escapes) and encoding/json's %s second", first, second, want)
	}
	var a, b probe
	if json.Unmarshal(first, &a) != nil || json.Unmarshal(second, &b) != nil || a != b {
		t.Errorf("first %s and second %s decode to %+v and %+v; want the same", first, second, a, b)
	}
}
