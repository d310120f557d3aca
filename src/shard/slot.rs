//! Key → Redis Cluster hash slot → shard.
//!
//! The slot is CRC16 (XMODEM) of the key, or of the part between the first
//! `{` and the next `}` when that part is non-empty, modulo 16384: the same
//! mapping Redis Cluster uses, so tagged keys stay together and a later
//! cluster mode can map slots to nodes.

pub const SLOTS: usize = 16384;

const fn make_table() -> [u16; 256] {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = (i as u16) << 8;
        let mut j = 0;
        while j < 8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
            j += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

static CRC16_TABLE: [u16; 256] = make_table();

/// CRC16-CCITT (XMODEM), the checksum Redis Cluster uses.
pub fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in data {
        crc = (crc << 8) ^ CRC16_TABLE[(((crc >> 8) as u8) ^ b) as usize];
    }
    crc
}

/// The hash slot of `key`, honouring `{hash tag}`s.
#[inline]
pub fn key_slot(key: &[u8]) -> u16 {
    let hashed = match memchr::memchr(b'{', key) {
        Some(open) => match memchr::memchr(b'}', &key[open + 1..]) {
            Some(len) if len > 0 => &key[open + 1..open + 1 + len],
            _ => key,
        },
        None => key,
    };
    crc16(hashed) & (SLOTS as u16 - 1)
}

/// The shard that owns `slot` when the keyspace is split `shards` ways.
/// Slots are dealt out in contiguous ranges so a shard's slots form one run.
#[inline]
pub fn slot_shard(slot: u16, shards: usize) -> usize {
    (slot as usize * shards) / SLOTS
}

/// The shard that owns `key`.
#[inline]
pub fn key_shard(key: &[u8], shards: usize) -> usize {
    if shards == 1 {
        return 0;
    }
    slot_shard(key_slot(key), shards)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_slots() {
        // Values from Redis Cluster's CLUSTER KEYSLOT.
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"bar"), 5061);
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"{user1000}.followers"));
        assert_eq!(key_slot(b"foo{}{bar}"), key_slot(b"foo{}{bar}"));
        assert_eq!(key_slot(b"foo{}{bar}"), crc16(b"foo{}{bar}") & 16383);
        assert_eq!(key_slot(b"foo{{bar}}zap"), crc16(b"{bar") & 16383);
        assert_eq!(key_slot(b"foo{bar}{zap}"), crc16(b"bar") & 16383);
    }

    #[test]
    fn shards_cover_all_slots_in_order() {
        for shards in 1..=8 {
            let mut last = 0;
            for slot in 0..SLOTS as u16 {
                let s = slot_shard(slot, shards);
                assert!(s < shards && s >= last);
                last = s;
            }
            assert_eq!(last, shards - 1);
        }
    }
}
