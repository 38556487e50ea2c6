// Package blob keeps large immutable objects (plugin modules, media files)
// behind one small interface, so that hosts sharing a database can share
// them through a shared backend. Local files are the embedded default
// (Local); S3 keeps them on any S3-compatible server (AWS S3, MinIO, ...).
//
// Writes stream: a Put never holds a whole object in memory, whatever its
// size, and is whole or nothing. Reads stream too, whole or by range
// (GetRange, for HTTP Range requests). A store may offer more through
// optional interfaces: Presigner (links a browser downloads from directly)
// and Sweeper (what a crashed process left half written).
//
// blob/blobtest is the conformance suite every Store passes; blob/miniotest
// gives tests a MinIO server. RATIONALE.md beside this file says why the
// package is shaped as it is.
package blob
