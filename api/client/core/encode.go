package core

import (
	"encoding"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"
)

// encodeJSON encodes v as encoding/json would (the same JSON value, not
// always the same bytes: no HTML escaping), walking it with reflect
// directly. encoding/json first builds and caches an encoder for every
// type v reaches, sorting and checking their fields: for a submit (JobSpec
// and what it holds) that took 0.2 ms of each sbatch's 1.3, to be used
// once. It handles what the API's requests are made of (structs, embedded
// ones included, with json names and omitempty; strings, bools, integers,
// slices, string-keyed maps, pointers, json.Marshalers) and reports
// errUnsupported for anything else, for the caller to use encoding/json.
func encodeJSON(v any) ([]byte, error) {
	return appendValue(make([]byte, 0, 4096), reflect.ValueOf(v))
}

var errUnsupported = errors.New("not supported by the direct encoder")

// encoded holds the types of the requests encoded so far.
var encoded sync.Map

// encodeRequest encodes req with encodeJSON the first time a request of
// its type is sent, and with encoding/json from then on: once its
// encoders are built and cached, encoding/json takes half the time (a
// controller, a node, a benchmark's clients send many).
func encodeRequest(req any) ([]byte, error) {
	if _, again := encoded.LoadOrStore(reflect.TypeOf(req), true); !again {
		if b, err := encodeJSON(req); err == nil {
			return b, nil
		}
	}
	return json.Marshal(req)
}

var (
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

func appendValue(b []byte, v reflect.Value) ([]byte, error) {
	if !v.IsValid() {
		return append(b, "null"...), nil
	}
	t := v.Type()
	if t.Implements(marshalerType) {
		if t.Kind() == reflect.Pointer && v.IsNil() {
			return append(b, "null"...), nil
		}
		data, err := v.Interface().(json.Marshaler).MarshalJSON()
		if err != nil || !json.Valid(data) {
			return nil, errUnsupported // encoding/json says what is wrong
		}
		return append(b, data...), nil
	}
	if reflect.PointerTo(t).Implements(marshalerType) || t.Implements(textMarshalerType) || reflect.PointerTo(t).Implements(textMarshalerType) {
		return nil, errUnsupported
	}
	switch t.Kind() {
	case reflect.Bool:
		return strconv.AppendBool(b, v.Bool()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.AppendInt(b, v.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.AppendUint(b, v.Uint(), 10), nil
	case reflect.String:
		return appendString(b, v.String()), nil
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return append(b, "null"...), nil
		}
		return appendValue(b, v.Elem())
	case reflect.Slice:
		if v.IsNil() {
			return append(b, "null"...), nil
		}
		if t.Elem().Kind() == reflect.Uint8 {
			return nil, errUnsupported // base64
		}
		fallthrough
	case reflect.Array:
		if b, ok := appendPlainList(b, v); ok {
			return b, nil
		}
		b = append(b, '[')
		for i := range v.Len() {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendValue(b, v.Index(i)); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case reflect.Map:
		if t.Key().Kind() != reflect.String || t.Key().Implements(textMarshalerType) {
			return nil, errUnsupported
		}
		if v.IsNil() {
			return append(b, "null"...), nil
		}
		keys := v.MapKeys()
		slices.SortFunc(keys, func(x, y reflect.Value) int {
			switch xs, ys := x.String(), y.String(); {
			case xs < ys:
				return -1
			case xs > ys:
				return 1
			}
			return 0
		})
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(appendString(b, k.String()), ':')
			var err error
			if b, err = appendValue(b, v.MapIndex(k)); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	case reflect.Struct:
		b = append(b, '{')
		first := true
		seen := map[string]bool{}
		b, err := appendFields(b, v, &first, seen)
		if err != nil {
			return nil, err
		}
		return append(b, '}'), nil
	}
	return nil, errUnsupported // floats, complex numbers, channels, functions
}

// appendPlainList appends a list of integers, as appendValue would, with
// its element type checked once rather than element by element: an
// array's 10,000 task indexes took a 10,000-task sbatch 2 ms that way.
// ok is false, and b as it was, for any other list.
func appendPlainList(b []byte, v reflect.Value) (_ []byte, ok bool) {
	et := v.Type().Elem()
	if et.Implements(marshalerType) || reflect.PointerTo(et).Implements(marshalerType) ||
		et.Implements(textMarshalerType) || reflect.PointerTo(et).Implements(textMarshalerType) {
		return b, false
	}
	var appendOne func(b []byte, e reflect.Value) []byte
	switch et.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		appendOne = func(b []byte, e reflect.Value) []byte { return strconv.AppendInt(b, e.Int(), 10) }
	case reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uint:
		appendOne = func(b []byte, e reflect.Value) []byte { return strconv.AppendUint(b, e.Uint(), 10) }
	default:
		return b, false
	}
	b = append(b, '[')
	for i := range v.Len() {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendOne(b, v.Index(i))
	}
	return append(b, ']'), true
}

// appendFields appends the fields of struct v, and those of the structs
// it embeds (without a json name) in their place. Two fields of one
// name (encoding/json's rules for which wins are not repeated here) are
// errUnsupported.
func appendFields(b []byte, v reflect.Value, first *bool, seen map[string]bool) ([]byte, error) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := cutComma(tag)
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				return nil, errUnsupported
			}
			if ft.Kind() == reflect.Struct {
				if ft.Implements(marshalerType) || reflect.PointerTo(ft).Implements(marshalerType) {
					return nil, errUnsupported
				}
				var err error
				if b, err = appendFields(b, v.Field(i), first, seen); err != nil {
					return nil, err
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		omitEmpty := false
		for opts != "" {
			var o string
			o, opts, _ = cutComma(opts)
			switch o {
			case "omitempty":
				omitEmpty = true
			case "":
			default:
				return nil, errUnsupported // string, omitzero: encoding/json's
			}
		}
		if seen[name] {
			return nil, errUnsupported
		}
		seen[name] = true
		fv := v.Field(i)
		if omitEmpty && isEmpty(fv) {
			continue
		}
		if !*first {
			b = append(b, ',')
		}
		*first = false
		b = append(appendString(b, name), ':')
		var err error
		if b, err = appendValue(b, fv); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func cutComma(s string) (before, after string, found bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == ',' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// isEmpty is omitempty's test: false, 0, "", and nil or empty pointers,
// interfaces, slices, maps and arrays. A struct is never empty.
func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string: quotes, backslashes and
// control characters escaped, invalid UTF-8 as U+FFFD, and U+2028 and
// U+2029 escaped (as encoding/json does, for JavaScript's sake).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(append(b, s[start:]...), '"')
}
