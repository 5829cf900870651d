// Package deflate implements the permessage-deflate WebSocket extension (RFC 7692) without I/O:
// it parses and answers Sec-WebSocket-Extensions values and compresses and decompresses whole
// message payloads. Framing (the RSV1 bit, fragmentation) belongs to package proto and the
// connection layer.
//
// # Negotiation
//
// A client sends [Offer] in its handshake and checks the server's answer with [ClientAccept]; a
// server answers the client's offers with [ServerAccept]. Both yield the agreed [Params], from
// which each endpoint builds one [Compressor] for what it sends and one [Decompressor] for what
// it receives: a client's Compressor follows Params.ClientNoContextTakeover and its
// Decompressor Params.ServerNoContextTakeover, and a server's the other way round. The package
// example shows both sides.
//
// # Compression library
//
// Messages are compressed and decompressed with github.com/klauspost/compress/flate, which
// takes compress/flate's levels and API and is about twice as fast on 4 KiB text at
// flate.BestSpeed, without allocating. Its fast levels (1 to 6, and the default, which is
// its level 5) do not search messages shorter than 13 bytes for matches but store them,
// 11 bytes for "Hello" where levels 7 to 9 give RFC 7692's 7; such messages are under
// DefaultThreshold, so the connection layer sends them uncompressed anyway.
//
// # Window sizes
//
// We compress with a 32 KiB window at every LZ77 level. When the negotiation limits our compressor's window below 15 bits (a
// client's server_max_window_bits that a server accepts, a server's client_max_window_bits
// answering the client_max_window_bits that [Offer] always sends), the endpoint compresses
// with flate.HuffmanOnly instead, as [Params.CompressionLevel] says: Huffman-only output
// has no back-references, so it is valid for any window, and still entropy-codes the
// message. The decompressor keeps a full 32 KiB window, so it reads a peer compressing with
// any window size.
//
// # Memory
//
// A flate writer takes about 0.8 MiB at flate.BestSpeed (1.1 MiB at the default level,
// 1.4 MiB at flate.BestCompression, 0.3 MiB Huffman-only) and a flate reader about 40 KiB.
// Both come from process-wide pools and go back after each message, with one exception: with
// context takeover a Compressor keeps its writer from its first message until Close, because
// the next message continues its stream (RFC 7692 §7.1.1). A Decompressor with context
// takeover keeps the last 32 KiB of output. An idle connection without context takeover holds no flate state.
//
// # Limits
//
// [Decompressor.Inflate] stops as soon as a message's output would exceed the caller's limit,
// before allocating for it, so a small compressed message cannot expand into a large
// allocation (a "decompression bomb").
package deflate
