// Command inventory is a domain that reacts to another's events: when an
// order is placed it reserves the order's lines and schedules a reminder a
// day later (a background job, which notes the stock still held), and when
// an order is cancelled it releases them. Its handlers and job issue its own
// commands, which the host sends through the same dispatcher as REST.
package main

import "fluvius.dev/fluvius/sdk"

func init() { sdk.Register(Domain) }

// main is never called: the host runs the plugin as a reactor.
func main() {}
