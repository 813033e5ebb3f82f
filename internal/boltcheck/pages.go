package boltcheck

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

// bbolt's file format (v1.3, format version 2), read with ReadAt and
// bounds checks: a corrupt file cannot fault, loop or run out of memory
// here, as it can in bbolt's mmap-based cursors.
const (
	pageHeaderSize = 16 // id u64, flags u16, count u16, overflow u32
	elementSize    = 16 // branch: pos, ksize u32, pgid u64; leaf: flags, pos, ksize, vsize u32
	bucketHeader   = 16 // root pgid u64, sequence u64

	branchPage   = 0x01
	leafPage     = 0x02
	freelistPage = 0x10
	bucketLeaf   = 0x01

	magic         = 0xED0CDAED
	formatVersion = 2
	noFreelist    = ^uint64(0) // NoFreelistSync: the freelist is rebuilt at Open
	maxDepth      = 64         // a B+tree this deep has more pages than any file
)

type meta struct {
	pageSize          uint32
	root, freelist    uint64
	highWater, txid   uint64 // pgid: the first page past the data
	checksumOK, magic bool
}

func readMeta(buf []byte) meta {
	m := meta{
		magic:     binary.LittleEndian.Uint32(buf[0:]) == magic && binary.LittleEndian.Uint32(buf[4:]) == formatVersion,
		pageSize:  binary.LittleEndian.Uint32(buf[8:]),
		root:      binary.LittleEndian.Uint64(buf[16:]),
		freelist:  binary.LittleEndian.Uint64(buf[32:]),
		highWater: binary.LittleEndian.Uint64(buf[40:]),
		txid:      binary.LittleEndian.Uint64(buf[48:]),
	}
	h := fnv.New64a()
	h.Write(buf[:56])
	m.checksumOK = h.Sum64() == binary.LittleEndian.Uint64(buf[56:])
	return m
}

// pageChecker walks the tree from the meta page bbolt would use.
type pageChecker struct {
	f         *os.File
	size      int64
	pageSize  int64
	highWater uint64
	reachable map[uint64]bool
}

// checkPages checks what bbolt reads: a valid meta page, every page of the
// tree inside the file and below the high-water mark, each reached once,
// of the type its parent expects, with elements inside the page; and a
// freelist that lists no page twice and none in use.
func checkPages(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	c := &pageChecker{f: f, size: info.Size(), reachable: map[uint64]bool{0: true, 1: true}}
	// Meta 0 is at offset 0; meta 1 one page later, and the page size is
	// in the meta itself: read 0 first, then 1 at the size 0 gives, or at
	// 4096 when 0 is unreadable.
	var metas []meta
	buf := make([]byte, pageHeaderSize+64)
	if _, err := f.ReadAt(buf, 0); err != nil {
		return fmt.Errorf("%w: read meta page 0: %v", ErrCorrupt, err)
	}
	m0 := readMeta(buf[pageHeaderSize:])
	metas = append(metas, m0)
	off := int64(4096)
	if m0.magic && m0.checksumOK {
		off = int64(m0.pageSize)
	}
	if _, err := f.ReadAt(buf, off); err == nil {
		metas = append(metas, readMeta(buf[pageHeaderSize:]))
	}
	var use *meta
	for i := range metas {
		if m := &metas[i]; m.magic && m.checksumOK && (use == nil || m.txid > use.txid) {
			use = m
		}
	}
	if use == nil {
		return fmt.Errorf("%w: neither meta page is valid (bad magic, version or checksum)", ErrCorrupt)
	}
	if use.pageSize < 1024 || use.pageSize > 1<<20 || use.pageSize&(use.pageSize-1) != 0 {
		return fmt.Errorf("%w: page size %d", ErrCorrupt, use.pageSize)
	}
	c.pageSize, c.highWater = int64(use.pageSize), use.highWater
	if need := int64(use.highWater) * c.pageSize; use.highWater > 1<<40 || need > c.size {
		return fmt.Errorf("%w: the file is %d bytes but its meta page says it holds %d pages of %d bytes (truncated?)", ErrCorrupt, c.size, use.highWater, c.pageSize)
	}
	if err := c.tree(use.root, 0); err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if use.freelist != noFreelist {
		if err := c.freelist(use.freelist); err != nil {
			return fmt.Errorf("%w: freelist: %v", ErrCorrupt, err)
		}
	}
	return nil
}

// page reads page id and its overflow pages, marking them reachable.
func (c *pageChecker) page(id uint64) ([]byte, error) {
	if id < 2 || id >= c.highWater {
		return nil, fmt.Errorf("page %d is outside the data (pages 2 to %d)", id, c.highWater-1)
	}
	head := make([]byte, pageHeaderSize)
	if _, err := c.f.ReadAt(head, int64(id)*c.pageSize); err != nil {
		return nil, fmt.Errorf("read page %d: %v", id, err)
	}
	if got := binary.LittleEndian.Uint64(head); got != id {
		return nil, fmt.Errorf("page %d says it is page %d", id, got)
	}
	overflow := uint64(binary.LittleEndian.Uint32(head[12:]))
	if id+overflow >= c.highWater {
		return nil, fmt.Errorf("page %d runs %d pages past the data", id, overflow)
	}
	for i := uint64(0); i <= overflow; i++ {
		if c.reachable[id+i] {
			return nil, fmt.Errorf("page %d is used twice", id+i)
		}
		c.reachable[id+i] = true
	}
	buf := make([]byte, int64(overflow+1)*c.pageSize)
	if _, err := c.f.ReadAt(buf, int64(id)*c.pageSize); err != nil && err != io.EOF {
		return nil, fmt.Errorf("read page %d: %v", id, err)
	}
	return buf, nil
}

// tree checks the B+tree whose root is page id.
func (c *pageChecker) tree(id uint64, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("the tree is more than %d levels deep at page %d (a cycle?)", maxDepth, id)
	}
	buf, err := c.page(id)
	if err != nil {
		return err
	}
	return c.node(buf, id, depth)
}

// node checks one branch or leaf page (buf starts at its header; an
// inline bucket's page has id 0).
func (c *pageChecker) node(buf []byte, id uint64, depth int) error {
	flags := binary.LittleEndian.Uint16(buf[8:])
	count := int(binary.LittleEndian.Uint16(buf[10:]))
	if flags != branchPage && flags != leafPage {
		return fmt.Errorf("page %d has type %#x, want a branch or a leaf", id, flags)
	}
	if pageHeaderSize+count*elementSize > len(buf) {
		return fmt.Errorf("page %d says it has %d elements, more than it can hold", id, count)
	}
	for i := 0; i < count; i++ {
		el := pageHeaderSize + i*elementSize
		if flags == branchPage {
			pos, ksize := binary.LittleEndian.Uint32(buf[el:]), binary.LittleEndian.Uint32(buf[el+4:])
			if int64(el)+int64(pos)+int64(ksize) > int64(len(buf)) {
				return fmt.Errorf("page %d element %d: key past the page", id, i)
			}
			if err := c.tree(binary.LittleEndian.Uint64(buf[el+8:]), depth+1); err != nil {
				return err
			}
			continue
		}
		lflags, pos := binary.LittleEndian.Uint32(buf[el:]), binary.LittleEndian.Uint32(buf[el+4:])
		ksize, vsize := binary.LittleEndian.Uint32(buf[el+8:]), binary.LittleEndian.Uint32(buf[el+12:])
		start := int64(el) + int64(pos) + int64(ksize)
		if start+int64(vsize) > int64(len(buf)) {
			return fmt.Errorf("page %d element %d: key or value past the page", id, i)
		}
		if lflags&bucketLeaf == 0 {
			continue
		}
		if vsize < bucketHeader {
			return fmt.Errorf("page %d element %d: a bucket of %d bytes", id, i, vsize)
		}
		v := buf[start : start+int64(vsize)]
		if root := binary.LittleEndian.Uint64(v); root != 0 {
			if err := c.tree(root, depth+1); err != nil {
				return err
			}
		} else if len(v) >= bucketHeader+pageHeaderSize { // inline bucket: a leaf inside the value
			if err := c.node(v[bucketHeader:], id, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// freelist checks the freelist page lists each page once and none in use.
func (c *pageChecker) freelist(id uint64) error {
	buf, err := c.page(id)
	if err != nil {
		return err
	}
	if flags := binary.LittleEndian.Uint16(buf[8:]); flags != freelistPage {
		return fmt.Errorf("page %d has type %#x, want the freelist", id, flags)
	}
	count, ids := uint64(binary.LittleEndian.Uint16(buf[10:])), buf[pageHeaderSize:]
	if count == 0xFFFF { // the count overflows into the first id slot
		count, ids = binary.LittleEndian.Uint64(ids), ids[8:]
	}
	if count > uint64(len(ids)/8) {
		return fmt.Errorf("it says it lists %d pages, more than it can hold", count)
	}
	freed := make(map[uint64]bool, count)
	for i := uint64(0); i < count; i++ {
		p := binary.LittleEndian.Uint64(ids[i*8:])
		switch {
		case freed[p]:
			return fmt.Errorf("page %d is freed twice", p)
		case c.reachable[p]:
			return fmt.Errorf("page %d is free and in use", p)
		case p >= c.highWater:
			return fmt.Errorf("page %d is outside the data", p)
		}
		freed[p] = true
	}
	return nil
}
