package store

import (
	"context"
	"time"
)

// MediaStore keeps the metadata of uploaded files (media): their bytes
// live in a blob store under BlobKey, which uploads of the same content in
// the same tenant share. Every call names the tenant: a media of another
// tenant is not found, exactly as one that does not exist.
type MediaStore interface {
	// MediaAdd records a media. With ReuseBlobOf set, the new record takes
	// the blob key of that media, which must still exist (ErrNotFound if it
	// was deleted meanwhile: the caller then keeps its own blob). ID,
	// Tenant, BlobKey (unless reused) and CreatedAt are the caller's.
	MediaAdd(ctx context.Context, m *Media, reuseBlobOf string) error
	// MediaGet reads a media; ErrNotFound if the tenant has none of that id.
	MediaGet(ctx context.Context, tenant, id string) (*Media, error)
	// MediaBySHA256 returns a media of the tenant with that content
	// (the oldest), or ErrNotFound.
	MediaBySHA256(ctx context.Context, tenant, sum string) (*Media, error)
	// MediaDelete deletes a media and returns its blob key and whether no
	// other media uses it any more (then the caller deletes the blob).
	// ErrInUse if an aggregate references it; ErrNotFound if there is none.
	MediaDelete(ctx context.Context, tenant, id string) (blobKey string, unused bool, err error)
	// MediaRefsAdd records that an aggregate references media of the
	// tenant (again is no error); ErrNotFound if one of them does not
	// exist, and then none is recorded.
	MediaRefsAdd(ctx context.Context, tenant string, ids []string, ref MediaRef) error
	// MediaRefs lists the aggregates referencing a media, oldest first.
	MediaRefs(ctx context.Context, tenant, id string) ([]MediaRef, error)
}

// Media is an uploaded file's metadata.
type Media struct {
	ID          string
	Tenant      string
	Owner       string // the uploader's user id
	Name        string // the file name as uploaded, cleaned; never a path
	Size        int64
	ContentType string // sniffed at upload
	SHA256      string // hex
	BlobKey     string
	CreatedAt   time.Time
}

// MediaRef is an aggregate referencing a media.
type MediaRef struct {
	Domain, Resource, AggregateID string
	CreatedAt                     time.Time
}
