// Command bank is a bank account domain as a plugin: open an account with a
// minimum balance, deposit, withdraw without overdraft, close only at zero.
package main

import "fluvius.dev/fluvius/sdk"

func init() { sdk.Register(Domain) }

// main is never called: the host runs the plugin as a reactor.
func main() {}
