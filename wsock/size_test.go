package wsock

import (
	"testing"
	"unsafe"
)

// TestConnSizeClass keeps Conn within the 1152-byte size class of the allocator: every
// connection pays for its whole class, and the next one up is 1280 bytes.
func TestConnSizeClass(t *testing.T) {
	if n := unsafe.Sizeof(Conn{}); n > 1024 {
		t.Errorf("unsafe.Sizeof(Conn{}) = %d, want <= 1024 (a size class of the allocator): move cold fields into lazily made sub-structs", n)
	}
}
