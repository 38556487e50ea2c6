// Command user is Fluvius's user domain as a plugin: create, update and
// deactivate users. Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o user.wasm .
package main

import "fluvius.dev/fluvius/sdk"

func init() { sdk.Register(Domain) }

// main is never called: the host runs the plugin as a reactor.
func main() {}
