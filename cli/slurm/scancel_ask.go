package slurm

import (
	"fmt"
	"strings"
)

// askYesNo prints prompt and reads answers, as scancel -i does, until it
// gets y or n; no answer (end of input) is no.
func (s *scancel) askYesNo(prompt string) bool {
	for {
		fmt.Fprint(s.c.Stdout, prompt)
		line, err := s.in.ReadString('\n')
		switch strings.ToLower(strings.TrimSpace(line)) {
		case "y", "yes":
			return true
		case "n", "no":
			return false
		}
		if err != nil {
			fmt.Fprintln(s.c.Stdout)
			return false
		}
	}
}
