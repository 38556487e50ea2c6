// Package live follows the event feed for live subscribers: the clients of
// GET /_events, whatever protocol carries them (admin/ speaks SSE and
// WebSocket; this package knows no HTTP).
//
// A Hub reads the feed once for its host, from the store, and fans each
// event out to the subscribers it concerns: those of the event's tenant
// whose filter (domain, resource, aggregate, types) it passes. Whether a
// subscriber may read the event's aggregate is decided on the subscriber's
// side, through Access, with the decisions kept for a short time.
//
// Each subscriber has a bounded buffer. The reader never waits for one: a
// subscriber whose buffer is full is dropped (ErrSlowConsumer), its
// buffered events let go, and its client may come back from the last event
// it got. Memory held for subscribers is therefore bounded by the number
// of subscribers times the buffer, whatever is written meanwhile.
//
// A subscriber that starts from a cursor catches up by reading the feed
// itself, in bounded batches paced by its own consumer, and joins the fan
// out once it has read as far as the hub has: from then on the hub gives it
// the events after the place it reached. Both read the same feed in the
// same order (store.Cursor), so the hand-over has neither a gap nor a
// duplicate.
package live
