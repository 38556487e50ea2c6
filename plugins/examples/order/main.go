// Command order is an order domain as a plugin: place an order with items,
// cancel it, ship it; a cancelled order is never shipped.
package main

import "fluvius.dev/fluvius/sdk"

func init() { sdk.Register(Domain) }

// main is never called: the host runs the plugin as a reactor.
func main() {}
