//! The order detection reads events in: data time, then a fixed hash of
//! the id. Readers that merge sources (the CERT layout's five files) order
//! ties the same way, so the engine sees every source in the order it
//! expects.

/// The tie-break between events of the same microsecond: FNV-1a (64-bit)
/// of the id. Any fixed order makes the result independent of arrival
/// order; a number sorts without touching the id's text.
pub fn id_hash(id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in id.as_bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// An event's place in that order.
pub fn order_key(ts_us: i64, id: &str) -> (i64, u64) {
    (ts_us, id_hash(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_known_answers() {
        // The FNV-1a 64-bit test vectors.
        assert_eq!(id_hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(id_hash("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(id_hash("foobar"), 0x8594_4171_f739_67e8);
    }
}
