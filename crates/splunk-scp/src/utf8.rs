//! UTF-8 validation of a body that arrives in pieces.
//!
//! Every request body is checked once, piece by piece as it is read (the frame reader and
//! [`StreamDecoder`](crate::csv::StreamDecoder)); this is the check, vectorised by
//! `simdutf8` (AVX2 or SSE4.2, chosen at run time). Its `compat` flavour reports exactly
//! what `std::str::from_utf8` reports (how many bytes are valid, and whether the rest is
//! an invalid sequence or only a character cut off by the end), which the callers rely on:
//! a character split across two pieces must not count as invalid.

/// How much of `bytes` is valid UTF-8: `Some(n)` when the first `n` bytes are and anything
/// after them is the start of a character the input ends inside (`n == bytes.len()` when
/// all of it is valid); `None` when `bytes` holds an invalid sequence.
#[inline]
pub(crate) fn valid_prefix(bytes: &[u8]) -> Option<usize> {
    match simdutf8::compat::from_utf8(bytes) {
        Ok(_) => Some(bytes.len()),
        Err(e) if e.error_len().is_none() => Some(e.valid_up_to()),
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::valid_prefix;
    use proptest::prelude::*;

    /// What the callers relied on before: `std::str::from_utf8`'s verdict.
    fn by_std(bytes: &[u8]) -> Option<usize> {
        match std::str::from_utf8(bytes) {
            Ok(_) => Some(bytes.len()),
            Err(e) if e.error_len().is_none() => Some(e.valid_up_to()),
            Err(_) => None,
        }
    }

    #[test]
    fn cut_characters_and_invalid_sequences() {
        let text = "ascii é ✓ 😀 end".as_bytes();
        for cut in 0..=text.len() {
            assert_eq!(
                valid_prefix(&text[..cut]),
                by_std(&text[..cut]),
                "cut {cut}"
            );
        }
        assert_eq!(valid_prefix("a😀".as_bytes()[..3].as_ref()), Some(1));
        assert_eq!(valid_prefix(b"a\xffb"), None);
        assert_eq!(valid_prefix(b"a\xed\xa0\x80"), None); // a surrogate
        let long = "x".repeat(100) + "é";
        assert_eq!(valid_prefix(&long.as_bytes()[..101]), Some(100));
    }

    proptest! {
        /// Any bytes, mostly ASCII with multibyte characters and stray bytes mixed in, at
        /// lengths around the vector widths.
        #[test]
        fn agrees_with_std(parts in proptest::collection::vec(prop_oneof![
            4 => "[a-z\"\\\\,]{0,40}".prop_map(String::into_bytes),
            1 => "[é✓😀]{1,3}".prop_map(String::into_bytes),
            1 => proptest::collection::vec(any::<u8>(), 1..4),
        ], 0..12), cut in 0usize..400) {
            let bytes: Vec<u8> = parts.concat();
            let cut = cut.min(bytes.len());
            prop_assert_eq!(valid_prefix(&bytes), by_std(&bytes));
            prop_assert_eq!(valid_prefix(&bytes[..cut]), by_std(&bytes[..cut]));
        }
    }
}
