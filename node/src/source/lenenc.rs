//! MySQL's length-encoded integers, read with bounds checks (the binlog parsers of row images
//! and transaction payloads share it).

/// Reads a length-encoded integer from the front of `buf`; `None` if the data is too short or
/// starts with the reserved byte 0xff.
pub fn read(buf: &mut &[u8]) -> Option<u64> {
    let (&first, rest) = buf.split_first()?;
    let width = match first {
        0..=0xfa => {
            *buf = rest;
            return Some(u64::from(first));
        }
        0xfc => 2,
        0xfd => 3,
        0xfe => 8,
        _ => return None,
    };
    let bytes = rest.get(..width)?;
    *buf = &rest[width..];
    Some(
        bytes
            .iter()
            .rev()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_every_width_and_refuses_short_data() {
        let mut b: &[u8] = &[
            0x05, 0xfc, 0x34, 0x12, 0xfd, 1, 2, 3, 0xfe, 1, 0, 0, 0, 0, 0, 0, 0,
        ];
        assert_eq!(super::read(&mut b), Some(5));
        assert_eq!(super::read(&mut b), Some(0x1234));
        assert_eq!(super::read(&mut b), Some(0x030201));
        assert_eq!(super::read(&mut b), Some(1));
        assert!(b.is_empty());
        assert_eq!(super::read(&mut &[0xfe, 1][..]), None);
        assert_eq!(super::read(&mut &[0xff][..]), None);
        assert_eq!(super::read(&mut &[][..]), None);
    }
}
