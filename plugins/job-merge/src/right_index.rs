//! The right table (B) held compactly in memory for the streaming merge:
//! per row its key and the text its columns add to an output row, in one
//! byte arena. While the keys arrive in ascending order (files exported
//! from one system often are) they are found by searching outward from
//! where the last match was, which touches memory in order; the first key
//! out of order builds an open-addressing table of row numbers, and every
//! lookup after that hashes. Either way a repeated key is found.
//!
//! About 40 bytes a row for the sample flow's File_B (a 12-byte key, a
//! number, a timestamp), against the column frames and hash table of a
//! polars join. Owns the index only; what the right-hand text of a row is
//! comes from the caller.

/// Where a key's row was found, or that it repeats.
pub enum Inserted {
    /// A new key, stored as the given row.
    New,
    /// The key is already stored.
    Repeated,
}

/// The right table's rows by key.
pub struct RightIndex {
    /// Each row's key, then its right-hand text.
    bytes: Vec<u8>,
    /// Where each row's bytes end in `bytes`.
    ends: Vec<u32>,
    /// The length of each row's key.
    key_lens: Vec<u16>,
    /// Row number + 1 per slot, 0 for an empty slot; a power of two long,
    /// at most half full. Empty while the keys are in ascending order.
    slots: Vec<u32>,
    /// Rows the table is sized for when it is built.
    expected_rows: usize,
}

impl RightIndex {
    /// An index sized for about `rows` rows of `bytes_per_row` bytes.
    pub fn with_capacity(rows: usize, bytes_per_row: usize) -> Self {
        Self {
            bytes: Vec::with_capacity(rows.saturating_mul(bytes_per_row)),
            ends: Vec::with_capacity(rows),
            key_lens: Vec::with_capacity(rows),
            slots: Vec::new(),
            expected_rows: rows,
        }
    }

    /// Whether the keys are stored in ascending order, without a table.
    fn sorted(&self) -> bool {
        self.slots.is_empty()
    }

    /// The number of rows stored.
    pub fn rows(&self) -> usize {
        self.ends.len()
    }

    /// Stores `key` with its right-hand text `rest`, unless the key is
    /// already stored; `None` when the index is full (4 GiB of text, a key
    /// longer than 64 KiB, 4 billion rows).
    pub fn insert(&mut self, key: &[u8], rest: &[u8]) -> Option<Inserted> {
        let in_order = self
            .rows()
            .checked_sub(1)
            .is_none_or(|last| self.key(last) < key);
        if self.sorted() && !in_order {
            self.build_table();
        }
        let slot = if self.sorted() {
            None
        } else {
            match self.find_slot(key) {
                Ok(_) => return Some(Inserted::Repeated),
                Err(slot) => Some(slot),
            }
        };
        let key_len = u16::try_from(key.len()).ok()?;
        let stored = u32::try_from(self.rows()).ok()?.checked_add(1)?;
        self.bytes.extend_from_slice(key);
        self.bytes.extend_from_slice(rest);
        self.ends.push(u32::try_from(self.bytes.len()).ok()?);
        self.key_lens.push(key_len);
        if let Some(slot) = slot {
            self.slots[slot] = stored;
            if self.rows() * 2 > self.slots.len() {
                self.place_all(self.slots.len() * 2);
            }
        }
        Some(Inserted::New)
    }

    /// The row that holds `key`, searched for from `row` (the row after the
    /// last match: a left table in the right's order finds its next match
    /// there, or learns from its neighbour that it has none).
    pub fn find_from(&self, key: &[u8], row: usize) -> Option<usize> {
        if row < self.rows() && self.key(row) == key {
            return Some(row);
        }
        if self.sorted() {
            let at = self.position_from(key, row);
            (at < self.rows() && self.key(at) == key).then_some(at)
        } else {
            self.find_slot(key).ok()
        }
    }

    /// In ascending order: the first row whose key is not below `key`,
    /// found by a window that doubles outward from `row`, then bisected.
    fn position_from(&self, key: &[u8], row: usize) -> usize {
        let rows = self.rows();
        let row = row.min(rows);
        let (mut low, mut high);
        let mut step = 1;
        if row < rows && self.key(row) < key {
            low = row + 1;
            loop {
                let probe = row + step;
                if probe >= rows {
                    high = rows;
                    break;
                }
                if self.key(probe) >= key {
                    high = probe;
                    break;
                }
                low = probe + 1;
                step *= 2;
            }
        } else {
            high = row;
            loop {
                let Some(probe) = row.checked_sub(step) else {
                    low = 0;
                    break;
                };
                if self.key(probe) < key {
                    low = probe + 1;
                    break;
                }
                high = probe;
                step *= 2;
            }
        }
        while low < high {
            let middle = low + (high - low) / 2;
            if self.key(middle) < key {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        low
    }

    /// The right-hand text of `row`.
    pub fn rest(&self, row: usize) -> &[u8] {
        let start = self.start(row) + usize::from(self.key_lens[row]);
        &self.bytes[start..self.ends[row] as usize]
    }

    fn key(&self, row: usize) -> &[u8] {
        let start = self.start(row);
        &self.bytes[start..start + usize::from(self.key_lens[row])]
    }

    fn start(&self, row: usize) -> usize {
        row.checked_sub(1)
            .map_or(0, |previous| self.ends[previous] as usize)
    }

    /// `Ok(row)` of `key`, or `Err(slot)`: the empty slot it would go in.
    fn find_slot(&self, key: &[u8]) -> Result<usize, usize> {
        let mask = self.slots.len() - 1;
        let mut slot = hash(key) as usize & mask;
        loop {
            match self.slots[slot] {
                0 => return Err(slot),
                stored => {
                    let row = stored as usize - 1;
                    if self.key(row) == key {
                        return Ok(row);
                    }
                }
            }
            slot = (slot + 1) & mask;
        }
    }

    /// Leaves the ascending order: a table for every row stored so far.
    fn build_table(&mut self) {
        let rows = self.rows().max(self.expected_rows).max(8);
        self.place_all((rows * 2).next_power_of_two());
    }

    /// A table of `size` slots (a power of two) with every row placed.
    fn place_all(&mut self, size: usize) {
        self.slots = vec![0; size];
        let mask = size - 1;
        for row in 0..self.rows() {
            let mut slot = hash(self.key(row)) as usize & mask;
            while self.slots[slot] != 0 {
                slot = (slot + 1) & mask;
            }
            // Rows are counted in `u32` by `insert`, so this fits.
            self.slots[slot] = u32::try_from(row + 1).unwrap_or(u32::MAX);
        }
    }
}

/// A fast hash of short keys: 8 bytes at a time, multiplied and folded,
/// then mixed (the finaliser of MurmurHash3) so that keys that differ in
/// their last digit spread over the whole table.
fn hash(key: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h = key.len() as u64;
    let mut chunks = key.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0; 8];
        word.copy_from_slice(chunk);
        h = (h ^ u64::from_le_bytes(word))
            .wrapping_mul(K)
            .rotate_left(31);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut word = [0; 8];
        word[..rest.len()].copy_from_slice(rest);
        h = (h ^ u64::from_le_bytes(word))
            .wrapping_mul(K)
            .rotate_left(31);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    h ^= h >> 33;
    h = h.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    h ^ (h >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(keys: &[u32]) -> RightIndex {
        let mut index = RightIndex::with_capacity(2, 4);
        for &n in keys {
            let key = format!("LU{n:010}");
            let inserted = index.insert(key.as_bytes(), &n.to_le_bytes());
            assert!(matches!(inserted, Some(Inserted::New)));
        }
        index
    }

    fn rest_of(index: &RightIndex, n: u32, from: usize) -> Option<Vec<u8>> {
        let key = format!("LU{n:010}");
        index
            .find_from(key.as_bytes(), from)
            .map(|row| index.rest(row).to_vec())
    }

    #[test]
    fn finds_every_key_from_anywhere_in_order_and_out_of_it() {
        let even: Vec<u32> = (0..500).map(|n| n * 2).collect();
        let mut shuffled = even.clone();
        shuffled.swap(10, 400);
        for keys in [even, shuffled] {
            let index = filled(&keys);
            assert_eq!(index.sorted(), keys.is_sorted());
            for from in [0, 1, 7, 250, 499, 500, 9999] {
                for n in 0..1000_u32 {
                    let expected = (n % 2 == 0).then(|| n.to_le_bytes().to_vec());
                    assert_eq!(rest_of(&index, n, from), expected, "{n} from {from}");
                }
            }
        }
    }

    #[test]
    fn a_repeated_key_is_found_in_order_and_out_of_it() {
        let mut index = filled(&[1, 2, 3]);
        assert!(matches!(
            index.insert(b"LU0000000003", b""),
            Some(Inserted::Repeated)
        ));
        assert!(matches!(
            index.insert(b"LU0000000001", b""),
            Some(Inserted::Repeated)
        ));
        assert!(matches!(
            index.insert(b"LU0000000000", b""),
            Some(Inserted::New)
        ));
        assert_eq!(index.rows(), 4);
        assert_eq!(rest_of(&index, 2, 0), Some(2_u32.to_le_bytes().to_vec()));
    }
}
