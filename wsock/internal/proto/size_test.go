package proto

import (
	"testing"
	"unsafe"
)

// TestReaderSizeClass keeps Reader within the 176-byte size class of the allocator: every
// connection has one, and the next class up is 192 bytes.
func TestReaderSizeClass(t *testing.T) {
	if n := unsafe.Sizeof(Reader{}); n > 176 {
		t.Errorf("unsafe.Sizeof(Reader{}) = %d, want <= 176 (a size class of the allocator)", n)
	}
}
