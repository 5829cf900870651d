// Command gotriovet checks Go code that uses gotrio for goroutines without an
// owner, nursery handles and connections that outlive their block, and tasks
// that cannot be cancelled.
//
// Run it standalone:
//
//	go run github.com/gotrio/gotrio/cmd/gotriovet@latest ./...
//
// or as a vet tool:
//
//	go install github.com/gotrio/gotrio/cmd/gotriovet@latest
//	go vet -vettool=$(which gotriovet) ./...
//
// Each check can be run alone (-gostmt, -nurseryescape, ...) or left out
// (-gostmt=false); gotriovet help lists them and gotriovet help NAME
// explains one.
package main

import (
	"golang.org/x/tools/go/analysis/multichecker"

	"github.com/gotrio/gotrio/cmd/gotriovet/passes"
)

func main() { multichecker.Main(passes.All...) }
