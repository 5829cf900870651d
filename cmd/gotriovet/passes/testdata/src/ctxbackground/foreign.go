package ctxbackground

import (
	std "context"

	"ctxbackground/context"
)

// A function called Background in a package called context that is not the
// standard one.
func foreignPackage(ctx std.Context) int {
	return context.Background()
}
