// Package sigv4 proves who sent an HTTP request signed with AWS Signature
// Version 4, the scheme the aws CLI and the AWS SDKs sign every call with,
// so that shoal's AWS-Batch-compatible API can name the caller.
//
// A Verifier recomputes the signature the way botocore (and so
// `aws batch ...`) computes it for a non-S3 service:
//
//   - the canonical URI is the path as it came on the wire, with dot
//     segments removed and runs of slashes collapsed, then URI-encoded once
//     more ("double encoding": a wire "%2F" is signed as "%252F");
//   - the canonical query is every key=value pair, decoded and re-encoded
//     with AWS's rules (only A-Z a-z 0-9 - _ . ~ left bare, space as %20),
//     sorted by key and then value;
//   - the canonical headers are the ones SignedHeaders names, lowercased,
//     values trimmed with inner runs of whitespace squeezed to one space and
//     repeated headers joined with ",";
//   - the payload hash is always hex(sha256(body)) as the server read it,
//     never a value the client claims.
//
// What is refused, and why:
//
//   - X-Amz-Content-Sha256 other than the body's hash, UNSIGNED-PAYLOAD and
//     streaming payloads included: an unsigned body could be swapped in
//     flight on the plain-HTTP endpoint shoal serves, and the batch API
//     acts on its body. awscli does not send the header for batch at all.
//   - Presigned URLs (X-Amz-Signature in the query), the Date header in
//     place of X-Amz-Date, and any algorithm but AWS4-HMAC-SHA256: no
//     client of the batch API uses them.
//   - A SignedHeaders list that does not include host.
//
// The credential scope's region is not checked: shoal answers whatever
// region the client was configured with. Its service must be
// Verifier.Service.
//
// Sign is the client half, for tests and shoal's own Go clients: it signs
// a request exactly as awscli 2 does (content-type;host;x-amz-date for a
// batch call), so either side can be checked against the other and against
// AWS's published test vectors.
package sigv4
