//! The CSV body codec, hand-written for speed (memchr scans, no per-field allocation).
//!
//! Dialect (protocol.md §6): comma separator, `"` quoting with `""` escapes, LF or CRLF record
//! terminators, embedded newlines inside quotes, a header row first, `__mv_<f>` companion
//! columns carrying `$a$;$b$` multivalue encodings (`$` doubled inside values).
//!
//! Decoding: [`decode`](fn@decode) and friends take a whole body; [`StreamDecoder`] takes it piece by
//! piece as it arrives (what the runtime does) with the same result, and can hand out the
//! rows decoded so far in batches.

pub mod decode;
pub mod encode;
pub mod stream;

pub use decode::{
    decode, decode_into, decode_into_with, decode_str_into_with, decode_with, DecodeLimits,
    DEFAULT_MAX_FIELD_BYTES, MAX_BODY_BYTES,
};
pub use encode::{encode, encode_mv, encode_mv_value, LineEnding};
pub use stream::StreamDecoder;
