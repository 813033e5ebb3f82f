package archive

// DropEvery is dropEvery, for the tests to drop the mapped pages at every
// index entry a walk reads.
var DropEvery = &dropEvery
