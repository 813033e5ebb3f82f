package raftfsm

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
)

// TestDecodeStopManyAsJSON: a StopManyCmd entry reads the same through
// the direct reader as through encoding/json, in the form Encode writes
// and in any other (which the reader leaves to json), and the reader
// reads Encode's form itself.
func TestDecodeStopManyAsJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cmds := []StopManyCmd{
		{IDs: []uint64{}, Reason: "", CallerUID: 0, Now: 0},
		{IDs: []uint64{0, 1, math.MaxUint64}, Reason: "Cancelled by user", CallerUID: math.MaxUint32, Now: math.MaxInt64},
		{IDs: []uint64{7}, Reason: "héllo wörld", CallerUID: 1000, Now: -5},
		{IDs: []uint64{7}, Reason: "a <b> & \"c\"\n\\", CallerUID: 1000, Now: 1}, // escaped: json's
	}
	for range 200 {
		c := StopManyCmd{IDs: make([]uint64, rng.IntN(50)), Reason: "scancel", CallerUID: rng.Uint32(), Now: rng.Int64() - math.MaxInt64/2}
		for i := range c.IDs {
			c.IDs[i] = rng.Uint64() >> rng.IntN(64)
		}
		cmds = append(cmds, c)
	}
	for _, c := range cmds {
		e, err := Encode(OpStopMany, c)
		if err != nil {
			t.Fatal(err)
		}
		body := e[1:]
		got, ok := readStopMany(body)
		if want := c.Reason; !ok && json.Valid(body) && want == "scancel" {
			t.Errorf("Encode's form not read directly: %s", body)
		}
		if ok && !reflect.DeepEqual(got, c) {
			t.Errorf("read %s as %+v, want %+v", body, got, c)
		}
		if d := decodeStopMany(body); !reflect.DeepEqual(d, c) {
			t.Errorf("decoded %s as %+v, want %+v", body, d, c)
		}
	}
	for _, body := range []string{
		`{"ids":null,"reason":"x","callerUid":1,"now":2}`,
		`{"ids":[1, 2],"reason":"x","callerUid":1,"now":2}`,
		`{"ids":[1],"reason":"\u0041","callerUid":1,"now":2}`,
		`{"ids":[1],"reason":"x","callerUid":1,"now":-0}`,
		`{"now":2,"ids":[1],"reason":"x","callerUid":1}`,
		`{"ids":[1],"reason":"x","callerUid":1,"now":2,"extra":3}`,
		`{"ids":[1],"reason":"x","callerUid":1,"now":2} `,
		"{\"ids\":[1],\"reason\":\"\xff\",\"callerUid\":1,\"now\":2}",
	} {
		var want StopManyCmd
		if err := json.Unmarshal([]byte(body), &want); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		if got, ok := readStopMany([]byte(body)); ok && !reflect.DeepEqual(got, want) {
			t.Errorf("read %s as %+v, json reads %+v", body, got, want)
		}
		if got := decodeStopMany([]byte(body)); !reflect.DeepEqual(got, want) {
			t.Errorf("decoded %s as %+v, json reads %+v", body, got, want)
		}
	}
	for _, body := range []string{ // json refuses these too: so must decodeStopMany (by its panic)
		`{"ids":[18446744073709551616],"reason":"x","callerUid":1,"now":2}`,
		`{"ids":[1],"reason":"x","callerUid":4294967296,"now":2}`,
		`{"ids":[01],"reason":"x","callerUid":1,"now":2}`,
		`{"ids":[1e3],"reason":"x","callerUid":1,"now":2}`,
	} {
		if _, ok := readStopMany([]byte(body)); ok {
			t.Errorf("read %s, which json refuses", body)
		}
	}
}
