//! The log's storage unit: C2SP tlog-tiles of height 8, kept with their
//! internal nodes.
//!
//! A tile at level `L` and index `N` covers the tree nodes at heights
//! `8L .. 8L+8` under 256 consecutive nodes of height `8L` (its *base*,
//! exactly the C2SP tile's content). We also keep the tile's internal nodes
//! (heights `8L+1 .. 8L+7`), so every complete node of the tree is one
//! lookup and a proof needs no re-hashing. A tile is partial (width < 256)
//! only on the right edge.
//!
//! [`Appender`] adds leaves in O(log n) amortised work: it holds only the
//! right-edge tile of each level and emits every tile it changed.

use std::collections::BTreeMap;

use crate::hash::{node_hash, Hash};
use crate::proof::{NodeSource, ProofError};

pub const TILE_HEIGHT: u8 = 8;
pub const TILE_WIDTH: usize = 1 << TILE_HEIGHT;

/// A tile's address: level, index, and width (number of base hashes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TileId {
    pub level: u8,
    pub index: u64,
}

/// A tile and its internal nodes. `rows[h]` holds the complete nodes at
/// local height `h` (0 is the base).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tile {
    pub id: TileId,
    rows: Vec<Vec<Hash>>,
}

/// A stored tile could not be read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("tile {level}/{index}: {reason}")]
pub struct TileError {
    pub level: u8,
    pub index: u64,
    pub reason: String,
}

impl Tile {
    pub fn empty(id: TileId) -> Tile {
        Tile {
            id,
            rows: vec![Vec::new(); usize::from(TILE_HEIGHT)],
        }
    }

    /// Base hashes held (256 when full).
    pub fn width(&self) -> usize {
        self.rows[0].len()
    }

    pub fn is_full(&self) -> bool {
        self.width() == TILE_WIDTH
    }

    /// The base hashes: the C2SP tile's content.
    pub fn base(&self) -> &[Hash] {
        &self.rows[0]
    }

    /// The node at local `height` and position, if complete.
    pub fn node(&self, height: u8, pos: usize) -> Option<&Hash> {
        self.rows.get(usize::from(height)).and_then(|r| r.get(pos))
    }

    /// Appends one base hash; completes the internal nodes it closes.
    /// Returns the tile's root when the tile becomes full.
    fn push(&mut self, h: Hash) -> Option<Hash> {
        self.rows[0].push(h);
        let mut lh = 0;
        loop {
            let row = &self.rows[lh];
            if !row.len().is_multiple_of(2) {
                return None;
            }
            let parent = node_hash(&row[row.len() - 2], &row[row.len() - 1]);
            if lh + 1 == usize::from(TILE_HEIGHT) {
                return Some(parent);
            }
            self.rows[lh + 1].push(parent);
            lh += 1;
        }
    }

    /// Serialises the rows, base first, 32 bytes a hash.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.rows.iter().map(|r| r.len() * 32).sum());
        for r in &self.rows {
            for h in r {
                out.extend_from_slice(h);
            }
        }
        out
    }

    /// Reads a tile of `width` base hashes written by [`Tile::to_bytes`].
    /// Structure only: [`Tile::check`] re-hashes the internal nodes.
    pub fn from_bytes(id: TileId, width: usize, bytes: &[u8]) -> Result<Tile, TileError> {
        let err = |reason: String| TileError {
            level: id.level,
            index: id.index,
            reason,
        };
        if width > TILE_WIDTH {
            return Err(err(format!("width {width} exceeds {TILE_WIDTH}")));
        }
        let lens: Vec<usize> = (0..TILE_HEIGHT).map(|h| width >> h).collect();
        let want: usize = lens.iter().sum::<usize>() * 32;
        if bytes.len() != want {
            return Err(err(format!(
                "{} bytes, expected {want} for width {width}",
                bytes.len()
            )));
        }
        let mut rows = Vec::with_capacity(lens.len());
        let mut at = 0;
        for n in lens {
            let mut row = Vec::with_capacity(n);
            for _ in 0..n {
                let mut h = [0u8; 32];
                h.copy_from_slice(&bytes[at..at + 32]);
                row.push(h);
                at += 32;
            }
            rows.push(row);
        }
        Ok(Tile { id, rows })
    }

    /// Checks each internal node against its children.
    pub fn check(&self) -> Result<(), String> {
        for h in 1..self.rows.len() {
            for (i, n) in self.rows[h].iter().enumerate() {
                if *n != node_hash(&self.rows[h - 1][2 * i], &self.rows[h - 1][2 * i + 1]) {
                    return Err(format!("internal node at local height {h}, position {i} does not match its children"));
                }
            }
        }
        Ok(())
    }

    /// Builds a tile from its base hashes.
    pub fn from_base(id: TileId, base: &[Hash]) -> Tile {
        let mut t = Tile::empty(id);
        for h in base {
            t.push(*h);
        }
        t
    }
}

/// Which tile holds the complete node at `height`, `index`, and where.
pub fn locate(height: u8, index: u64) -> (TileId, u8, usize) {
    let level = height / TILE_HEIGHT;
    let lh = height % TILE_HEIGHT;
    let per_tile = TILE_WIDTH >> lh;
    (
        TileId {
            level,
            index: index / per_tile as u64,
        },
        lh,
        (index % per_tile as u64) as usize,
    )
}

/// The tiles (and widths) that make up a tree of `size` leaves, level by
/// level: full tiles and at most one partial tile per level.
pub fn tiles_of(size: u64) -> Vec<(TileId, usize)> {
    let mut out = Vec::new();
    let mut n = size;
    let mut level = 0u8;
    while n > 0 {
        let full = n / TILE_WIDTH as u64;
        for i in 0..full {
            out.push((TileId { level, index: i }, TILE_WIDTH));
        }
        let rest = (n % TILE_WIDTH as u64) as usize;
        if rest > 0 {
            out.push((TileId { level, index: full }, rest));
        }
        n /= TILE_WIDTH as u64;
        level += 1;
    }
    out
}

/// The right-edge tiles of a tree of `size` leaves (one per level, possibly
/// empty), which is all an [`Appender`] needs.
pub fn edge_tiles(size: u64) -> Vec<(TileId, usize)> {
    let mut out = Vec::new();
    let mut n = size;
    let mut level = 0u8;
    loop {
        let rest = (n % TILE_WIDTH as u64) as usize;
        out.push((
            TileId {
                level,
                index: n / TILE_WIDTH as u64,
            },
            rest,
        ));
        n /= TILE_WIDTH as u64;
        if n == 0 {
            break;
        }
        level += 1;
    }
    out
}

/// A set of tiles in memory, answering node lookups.
#[derive(Debug, Clone, Default)]
pub struct TileSet {
    tiles: BTreeMap<TileId, Tile>,
}

impl TileSet {
    pub fn new() -> Self {
        TileSet::default()
    }

    pub fn insert(&mut self, t: Tile) {
        self.tiles.insert(t.id, t);
    }

    pub fn get(&self, id: &TileId) -> Option<&Tile> {
        self.tiles.get(id)
    }

    pub fn len(&self) -> usize {
        self.tiles.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tiles.is_empty()
    }
}

impl NodeSource for TileSet {
    fn node(&self, height: u8, index: u64) -> Result<Hash, ProofError> {
        let (id, lh, pos) = locate(height, index);
        self.tiles
            .get(&id)
            .and_then(|t| t.node(lh, pos))
            .copied()
            .ok_or_else(|| {
                ProofError::MissingNode(format!(
                    "height {height} index {index} (tile {}/{})",
                    id.level, id.index
                ))
            })
    }
}

/// Records which nodes a computation reads, answering with zeros: used to
/// find what a proof needs before reading it from a store.
#[derive(Debug, Default)]
pub struct NodeRecorder {
    seen: std::cell::RefCell<std::collections::BTreeSet<(u8, u64)>>,
}

impl NodeRecorder {
    /// The tiles holding the nodes read.
    pub fn tiles(&self) -> Vec<TileId> {
        let set: std::collections::BTreeSet<TileId> = self
            .seen
            .borrow()
            .iter()
            .map(|&(h, i)| locate(h, i).0)
            .collect();
        set.into_iter().collect()
    }

    /// The nodes read, as (height, index).
    pub fn nodes(&self) -> Vec<(u8, u64)> {
        self.seen.borrow().iter().copied().collect()
    }
}

impl NodeSource for NodeRecorder {
    fn node(&self, height: u8, index: u64) -> Result<Hash, ProofError> {
        self.seen.borrow_mut().insert((height, index));
        Ok([0; 32])
    }
}

/// The width of tile `id` in a log of `size` leaves (0 if beyond it).
pub fn tile_width(id: TileId, size: u64) -> usize {
    let base_count = size >> (u32::from(id.level) * u32::from(TILE_HEIGHT));
    let start = id.index.saturating_mul(TILE_WIDTH as u64);
    base_count.saturating_sub(start).min(TILE_WIDTH as u64) as usize
}

/// Adds leaves to a log whose right edge it holds.
#[derive(Debug, Clone)]
pub struct Appender {
    size: u64,
    edge: Vec<Tile>,
}

impl Appender {
    /// An appender for a log of `size` leaves given its right-edge tiles
    /// ([`edge_tiles`]); tiles of width 0 may be omitted.
    pub fn new(size: u64, tiles: Vec<Tile>) -> Result<Appender, TileError> {
        let mut edge = Vec::new();
        for (id, width) in edge_tiles(size) {
            let t = match tiles.iter().find(|t| t.id == id) {
                Some(t) => t.clone(),
                None => Tile::empty(id),
            };
            if t.width() != width {
                return Err(TileError {
                    level: id.level,
                    index: id.index,
                    reason: format!(
                        "right-edge tile has width {}, the log of size {size} needs {width}",
                        t.width()
                    ),
                });
            }
            edge.push(t);
        }
        Ok(Appender { size, edge })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends leaf hashes; returns every tile that changed (full tiles that
    /// completed, and the new right edge).
    pub fn append(&mut self, leaves: &[Hash]) -> Vec<Tile> {
        let mut changed: BTreeMap<TileId, Tile> = BTreeMap::new();
        for leaf in leaves {
            let mut carry = Some(*leaf);
            let mut level = 0usize;
            while let Some(h) = carry.take() {
                if self.edge.len() == level {
                    self.edge.push(Tile::empty(TileId {
                        level: level as u8,
                        index: 0,
                    }));
                }
                let t = &mut self.edge[level];
                if let Some(root) = t.push(h) {
                    let full = std::mem::replace(
                        t,
                        Tile::empty(TileId {
                            level: level as u8,
                            index: t.id.index + 1,
                        }),
                    );
                    changed.insert(full.id, full);
                    carry = Some(root);
                    level += 1;
                }
            }
            self.size += 1;
        }
        for t in &self.edge {
            if t.width() > 0 {
                changed.insert(t.id, t.clone());
            }
        }
        changed.into_values().collect()
    }

    /// The root of the log as it stands.
    pub fn root(&self) -> Hash {
        let mut set = TileSet::new();
        for t in &self.edge {
            set.insert(t.clone());
        }
        // Only right-edge nodes are read for the root (see tests).
        crate::proof::root(&set, self.size).unwrap_or_else(|_| crate::hash::empty_root())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::{leaf_hash, root_of};
    use crate::proof::{inclusion_proof, root, verify_inclusion};

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    #[test]
    fn appender_matches_the_definition_at_tile_edges() {
        for n in [
            0u64, 1, 2, 3, 255, 256, 257, 511, 512, 513, 65535, 65536, 65537, 70_000,
        ] {
            let l = leaves(n);
            // In one go, and in uneven batches.
            let mut a = Appender::new(0, vec![]).unwrap();
            a.append(&l);
            assert_eq!(a.root(), root_of(&l), "n = {n}");
            let mut b = Appender::new(0, vec![]).unwrap();
            let mut set = TileSet::new();
            for chunk in l.chunks(97) {
                for t in b.append(chunk) {
                    set.insert(t);
                }
            }
            assert_eq!(b.root(), root_of(&l), "n = {n} in batches");
            assert_eq!(root(&set, n).unwrap(), root_of(&l));
            // The stored tiles are exactly tiles_of(n).
            let mut want: Vec<_> = tiles_of(n);
            want.sort();
            let got: Vec<_> = want
                .iter()
                .map(|(id, w)| (set.get(id).unwrap().width(), *w))
                .collect();
            assert!(got.iter().all(|(a, b)| a == b));
        }
    }

    #[test]
    fn resuming_from_stored_edge_tiles() {
        let l = leaves(70_000);
        let mut a = Appender::new(0, vec![]).unwrap();
        let mut set = TileSet::new();
        for t in a.append(&l[..66_000]) {
            set.insert(t);
        }
        let edge: Vec<Tile> = edge_tiles(66_000)
            .into_iter()
            .filter_map(|(id, _)| set.get(&id).cloned())
            .collect();
        let bytes: Vec<_> = edge
            .iter()
            .map(|t| (t.id, t.width(), t.to_bytes()))
            .collect();
        let reread: Vec<Tile> = bytes
            .iter()
            .map(|(id, w, b)| Tile::from_bytes(*id, *w, b).unwrap())
            .collect();
        let mut b = Appender::new(66_000, reread).unwrap();
        for t in b.append(&l[66_000..]) {
            set.insert(t);
        }
        assert_eq!(b.root(), root_of(&l));
        for i in [0u64, 255, 256, 65_535, 65_536, 69_999] {
            let p = inclusion_proof(&set, i, 70_000).unwrap();
            verify_inclusion(i, 70_000, &l[i as usize], &p, &root_of(&l)).unwrap();
        }
    }

    #[test]
    fn a_tampered_tile_is_refused() {
        let mut a = Appender::new(0, vec![]).unwrap();
        let t = a.append(&leaves(300)).into_iter().next().unwrap();
        let mut bytes = t.to_bytes();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(Tile::from_bytes(t.id, t.width(), &bytes)
            .unwrap()
            .check()
            .is_err());
        assert!(Tile::from_bytes(t.id, t.width(), &bytes[1..]).is_err());
        assert!(
            Appender::new(300, vec![]).is_err(),
            "missing edge tiles are noticed"
        );
    }
}
