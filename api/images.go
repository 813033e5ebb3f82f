package api

// Image store paths. Images live as files on the controller that loaded
// them (not in the raft state), so a second controller does not have them.
const (
	// PathImageLoad takes an image tarball as the raw body, root only;
	// ?name=NAME names it (default: the tarball's own repo tags).
	PathImageLoad = "/shoal/v1/images/load"
	// PathImageList lists the loaded images (ImagesResponse).
	PathImageList = "/shoal/v1/images/list"
	// PathImageFetch answers a FetchImageRequest with the image's tarball,
	// for node daemons (and root).
	PathImageFetch = "/shoal/v1/images/fetch"
)

// ReasonCannotPull starts the statusReason of a job whose node could not
// get its image (AWS Batch's wording).
const ReasonCannotPull = "CannotPullContainerError"

// HeaderImageDigest carries the digest of the image a fetch resolved to.
const HeaderImageDigest = "Shoal-Image-Digest"

// Image is one name in the controller's image store.
type Image struct {
	// Name as loaded, in its familiar form ("busybox:latest"). A job's
	// image "busybox" or "docker.io/library/busybox:latest" finds it too:
	// names compare as Docker normalizes them (default registry docker.io,
	// default tag latest).
	Name string `json:"name"`
	// Digest is "sha256:" and the hex SHA-256 of the stored tarball.
	Digest string `json:"digest"`
	// Size is the tarball's size in bytes.
	Size int64 `json:"size"`
	// LoadedAt is when the name was loaded (epoch ms).
	LoadedAt int64 `json:"loadedAt"`
}

// ImagesResponse lists images, sorted by name.
type ImagesResponse struct {
	Images []Image `json:"images"`
}

// FetchImageRequest asks for an image's tarball by name.
type FetchImageRequest struct {
	Name string `json:"name"`
	// IfNoneMatch is a digest the caller has: if the name still resolves
	// to it, the answer is 304 Not Modified with no body.
	IfNoneMatch string `json:"ifNoneMatch,omitempty"`
}
