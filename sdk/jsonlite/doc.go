// Package jsonlite reads and writes JSON without reflection.
//
// Guests decode payloads and state and encode events and state on every
// command, inside WebAssembly, where reflective encoding/json costs 7-13x a
// hand-written codec and is incomplete under TinyGo. jsonlite validates a
// document once (Parse) and then reads fields lazily from the raw bytes
// (Value.Get), allocating only for the strings it returns; an Index spares
// repeated Gets on an object rescanning it. Writer appends JSON to a
// reusable buffer, and hands what it wrote back as a Value without scanning
// it again (Writer.Document).
package jsonlite
