package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/shoal-batch/shoal/cli/internal/termsafe"
)

// outputFlag selects table (default) or json output.
var outputFlag = &cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "table or json", Value: "table"}

// wantJSON reads --output, refusing formats it does not know.
func wantJSON(c *cli.Context) (bool, error) {
	switch c.String("output") {
	case "table", "":
		return false, nil
	case "json":
		return true, nil
	default:
		return false, usagef("--output %q: use table or json", c.String("output"))
	}
}

// printJSON prints v as indented JSON. encoding/json escapes C0 control
// characters; termsafe.JSON escapes the rest a terminal acts on (DEL, C1,
// bidirectional overrides) as \uHHHH, which decodes to the same value.
func printJSON(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(termsafe.JSON(buf.Bytes()))
	return err
}

// table prints aligned columns. The tabwriter writes each cell on its
// own; the buffer under it makes that one write (a 10,000-job queue was
// 70,000 write calls). Every cell passes through termsafe.String: a job
// name with a newline or an escape sequence stays one visible cell.
type table struct {
	tw  *tabwriter.Writer
	buf *bufio.Writer
}

func newTable(w io.Writer, header ...any) *table {
	buf := bufio.NewWriterSize(w, 64<<10)
	t := &table{tw: tabwriter.NewWriter(buf, 0, 8, 2, ' ', 0), buf: buf}
	t.row(header...)
	return t
}

func (t *table) row(cols ...any) {
	for i, c := range cols {
		if i > 0 {
			fmt.Fprint(t.tw, "\t")
		}
		io.WriteString(t.tw, termsafe.String(fmt.Sprint(c)))
	}
	fmt.Fprintln(t.tw)
}

func (t *table) flush() error {
	if err := t.tw.Flush(); err != nil {
		return err
	}
	return t.buf.Flush()
}

// age prints how long ago a millisecond timestamp was, compactly.
func age(now time.Time, ms int64) string {
	if ms == 0 {
		return "-"
	}
	d := now.Sub(time.UnixMilli(ms)).Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	default:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
