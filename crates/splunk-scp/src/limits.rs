//! Named, configurable resource limits and the hint that tells a user how to raise one.
//!
//! Every limit error carries the name of the setting that raises it (e.g. `max_chunk_bytes`),
//! so its text can end with "set `max_chunk_bytes=<bytes>` to raise it". The engine uses the
//! [`Limit::default_setting`] names; a command that exposes a limit under another option name
//! tells the runtime with [`crate::Runtime::limit_setting`], and the runtime rewrites the
//! name in the errors it reports.

use crate::error::{ChunkPart, CsvError, FrameError, ProtocolError};

/// A configurable limit of the protocol engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    /// Declared body size of one request chunk ([`crate::frame::FrameLimits::max_body`]).
    ChunkBytes,
    /// Declared metadata size of one request chunk
    /// ([`crate::frame::FrameLimits::max_metadata`]).
    MetadataBytes,
    /// Size of one decoded CSV field ([`crate::csv::DecodeLimits::max_field_bytes`]).
    FieldBytes,
    /// Size of one reply chunk (commands.conf `maxchunksize`).
    ReplyBytes,
}

impl Limit {
    /// All limits, in a fixed order.
    pub const ALL: [Limit; 4] = [
        Limit::ChunkBytes,
        Limit::MetadataBytes,
        Limit::FieldBytes,
        Limit::ReplyBytes,
    ];

    /// The setting name used in error hints unless the command names it otherwise.
    pub fn default_setting(self) -> &'static str {
        match self {
            Limit::ChunkBytes => "max_chunk_bytes",
            Limit::MetadataBytes => "max_metadata_bytes",
            Limit::FieldBytes => "max_field_bytes",
            Limit::ReplyBytes => "max_reply_bytes",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// The setting names in force, by [`Limit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SettingNames([String; 4]);

impl Default for SettingNames {
    fn default() -> Self {
        SettingNames(Limit::ALL.map(|l| l.default_setting().to_owned()))
    }
}

impl SettingNames {
    pub(crate) fn set(&mut self, limit: Limit, name: String) {
        self.0[limit.index()] = name;
    }

    pub(crate) fn get(&self, limit: Limit) -> &str {
        &self.0[limit.index()]
    }

    /// Replaces the setting name inside a limit error by the configured one.
    pub(crate) fn rename_frame(&self, mut e: FrameError) -> FrameError {
        if let FrameError::TooLarge { part, setting, .. } = &mut e {
            let limit = match part {
                ChunkPart::Metadata => Limit::MetadataBytes,
                _ => Limit::ChunkBytes,
            };
            *setting = self.get(limit).to_owned();
        }
        e
    }

    /// As [`Self::rename_frame`], for CSV errors.
    pub(crate) fn rename_csv(&self, mut e: CsvError) -> CsvError {
        if let CsvError::FieldTooLarge { setting, .. } = &mut e {
            *setting = self.get(Limit::FieldBytes).to_owned();
        }
        e
    }

    /// The reply-size error with the configured setting name.
    pub(crate) fn reply_too_large(&self, size: usize, limit: usize) -> ProtocolError {
        ProtocolError::ReplyTooLarge {
            size,
            limit,
            setting: self.get(Limit::ReplyBytes).to_owned(),
        }
    }
}
