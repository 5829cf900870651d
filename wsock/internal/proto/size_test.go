package proto

import (
	"testing"
	"unsafe"
)

// TestReaderSizeClass keeps Reader within the 288-byte size class of the allocator: every
// connection has one, and the next class up is 320 bytes.
func TestReaderSizeClass(t *testing.T) {
	if n := unsafe.Sizeof(Reader{}); n > 288 {
		t.Errorf("unsafe.Sizeof(Reader{}) = %d, want <= 288 (a size class of the allocator)", n)
	}
}
