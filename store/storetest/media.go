package storetest

import (
	"errors"
	"testing"
	"time"

	"fluvius.dev/fluvius/store"
)

// Media are a tenant's: another tenant's id is not found. Uploads of one
// content share a blob; deleting the last user of a blob says so, and an
// attached media cannot be deleted.
func testMedia(t *testing.T, d store.Driver) {
	ms, ok := d.(store.MediaStore)
	if !ok {
		t.Fatalf("%s keeps no media (store.MediaStore)", d.Name())
	}
	at := time.Now().UTC().Truncate(time.Microsecond)
	a := &store.Media{ID: "m-1", Tenant: "acme", Owner: "ann", Name: "invoice.pdf", Size: 1234, ContentType: "application/pdf",
		SHA256: fakeSHA("invoice"), BlobKey: "media/m-1", CreatedAt: at}
	if err := ms.MediaAdd(ctx, a, ""); err != nil {
		t.Fatal(err)
	}
	got, err := ms.MediaGet(ctx, "acme", "m-1")
	if err != nil || *got != *a {
		t.Fatalf("read back %+v (%v), want %+v", got, err, a)
	}
	if _, err := ms.MediaGet(ctx, "globex", "m-1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another tenant's media: %v", err)
	}
	if err := ms.MediaAdd(ctx, &store.Media{ID: "m-1", Tenant: "acme", Owner: "x", Name: "x", SHA256: "x", BlobKey: "x", CreatedAt: at}, ""); err == nil {
		t.Fatal("a media id was taken twice")
	}
	// The same content again, in the same tenant: the blob is shared.
	b := &store.Media{ID: "m-2", Tenant: "acme", Owner: "bob", Name: "copy.pdf", Size: 1234, ContentType: "application/pdf",
		SHA256: a.SHA256, BlobKey: "media/m-2", CreatedAt: at.Add(time.Second)}
	found, err := ms.MediaBySHA256(ctx, "acme", a.SHA256)
	if err != nil || found.ID != "m-1" {
		t.Fatalf("by content: %+v %v", found, err)
	}
	if _, err := ms.MediaBySHA256(ctx, "globex", a.SHA256); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("by content in another tenant: %v", err)
	}
	if err := ms.MediaAdd(ctx, b, found.ID); err != nil || b.BlobKey != "media/m-1" {
		t.Fatalf("reusing a blob: %v, key %s", err, b.BlobKey)
	}
	if err := ms.MediaAdd(ctx, &store.Media{ID: "m-3", Tenant: "acme", Owner: "x", Name: "x", SHA256: "x", BlobKey: "media/m-3", CreatedAt: at}, "m-gone"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("reusing the blob of a missing media: %v", err)
	}
	if _, err := ms.MediaGet(ctx, "acme", "m-3"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused reuse recorded the media: %v", err)
	}

	// References: recorded once, per aggregate; none for a missing media.
	ref := store.MediaRef{Domain: "order", Resource: "order", AggregateID: "o-1", CreatedAt: at}
	for range 2 {
		if err := ms.MediaRefsAdd(ctx, "acme", []string{"m-1"}, ref); err != nil {
			t.Fatal(err)
		}
	}
	if err := ms.MediaRefsAdd(ctx, "acme", []string{"m-2", "m-missing"}, store.MediaRef{Domain: "order", Resource: "order", AggregateID: "o-2", CreatedAt: at}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("referencing a missing media: %v", err)
	}
	if err := ms.MediaRefsAdd(ctx, "globex", []string{"m-2"}, ref); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("referencing another tenant's media: %v", err)
	}
	refs, err := ms.MediaRefs(ctx, "acme", "m-1")
	if err != nil || len(refs) != 1 || refs[0].AggregateID != "o-1" || !refs[0].CreatedAt.Equal(at) {
		t.Fatalf("references of m-1: %+v %v", refs, err)
	}
	if refs, _ := ms.MediaRefs(ctx, "acme", "m-2"); len(refs) != 0 {
		t.Fatalf("a refused reference was recorded: %+v", refs)
	}
	if refs, _ := ms.MediaRefs(ctx, "globex", "m-1"); len(refs) != 0 {
		t.Fatalf("another tenant sees references: %+v", refs)
	}

	// Deleting: not while attached; the shared blob stays until its last user goes.
	if _, _, err := ms.MediaDelete(ctx, "acme", "m-1"); !errors.Is(err, store.ErrInUse) {
		t.Fatalf("deleting an attached media: %v", err)
	}
	if _, _, err := ms.MediaDelete(ctx, "globex", "m-2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleting another tenant's media: %v", err)
	}
	key, unused, err := ms.MediaDelete(ctx, "acme", "m-2")
	if err != nil || key != "media/m-1" || unused {
		t.Fatalf("deleting a sharer: key %s, unused %v, %v", key, unused, err)
	}
	if _, err := ms.MediaGet(ctx, "acme", "m-2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a deleted media: %v", err)
	}
	lone := &store.Media{ID: "m-4", Tenant: "acme", Owner: "ann", Name: "a.txt", Size: 1, ContentType: "text/plain; charset=utf-8",
		SHA256: fakeSHA("a"), BlobKey: "media/m-4", CreatedAt: at}
	if err := ms.MediaAdd(ctx, lone, ""); err != nil {
		t.Fatal(err)
	}
	if key, unused, err := ms.MediaDelete(ctx, "acme", "m-4"); err != nil || key != "media/m-4" || !unused {
		t.Fatalf("deleting the last user of a blob: key %s, unused %v, %v", key, unused, err)
	}
}
