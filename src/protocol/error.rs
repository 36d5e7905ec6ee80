//! What can go wrong on the wire, and the error codes a response carries.
//!
//! Three things live here:
//!
//! - [`ProtocolError`] is *this process's* view of a frame it could not decode or encode. It
//!   never wraps a storage error: the codec knows bytes, not logs (iggy's `WireError` rule).
//!   [`ProtocolError::Incomplete`] is not a failure at all but the normal state "read more".
//! - [`DecodeError`] is a [`ProtocolError`] plus what the broker needs to answer it: the
//!   request's correlation id and the size of the bad frame, whenever the header was readable.
//! - [`ErrorCode`] is the `error: u16` field of a response, the *peer's* verdict on a request.
//!   Its values are part of the protocol and never change; new codes are only added.
//!
//! | code | name               | meaning                                                     |
//! |------|--------------------|-------------------------------------------------------------|
//! | 0    | (none)             | success: the body is the api's response body                |
//! | 1    | Malformed          | the request did not parse (including a count too large)     |
//! | 2    | UnsupportedVersion | unknown api or version                                      |
//! | 3    | FrameTooLarge      | the length prefix exceeds the broker's `--max-frame-bytes`  |
//! | 4    | InvalidTopic       | the topic name is not 1–249 of `[A-Za-z0-9._-]`             |
//! | 5    | UnknownTopic       | fetch of a topic that does not exist                        |
//! | 6    | MessageTooLarge    | a message exceeds `--max-message-bytes`                     |
//! | 7    | OffsetOutOfRange   | fetch past the end of the log (the next visible offset)     |
//! | 8    | CorruptLog         | the first record a fetch would serve fails its CRC          |
//! | 9    | TooManyConnections | the broker is at `--max-connections`                        |
//! | 10   | Internal           | anything else that went wrong in the broker                 |
//! | 11   | TooManyTopics      | a Produce would create a topic past the broker's `--max-topics` |
//! | 12   | BuffersFull        | the frame would take the broker's read buffers past `--max-buffered-bytes` |

use std::fmt;
use std::num::NonZeroU16;
use thiserror::Error;

/// Why a frame could not be decoded or encoded.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ProtocolError {
    /// The buffer holds less than a whole frame: read more bytes and try again. A normal state
    /// for a decoder fed from a socket, never sent to a peer.
    #[error("incomplete frame: more bytes are needed")]
    Incomplete,

    /// The length prefix announces more bytes than the receiver accepts. Reported from the
    /// 4-byte prefix alone, before anything is allocated for the body.
    #[error("frame of {size} bytes exceeds the limit of {max} bytes")]
    FrameTooLarge {
        /// The length prefix: the bytes announced after it.
        size: u32,
        /// The receiver's limit on that length.
        max: u32,
    },

    /// The api or its version is not one this codec speaks. Reported only once the whole
    /// frame is present, so the frame can be skipped and the connection kept.
    #[error("unsupported api {api} version {version} (this broker speaks apis 0-2, version 0)")]
    UnsupportedVersion {
        /// The frame's `api` byte.
        api: u8,
        /// The frame's `version` byte.
        version: u8,
    },

    /// The frame is whole but its contents do not parse; the text says where and why.
    #[error("malformed frame: {0}")]
    Malformed(String),

    /// A value cannot be represented on the wire (a topic longer than a `u16` length allows, a
    /// frame longer than a `u32` length allows). Only the encoder reports this.
    #[error("{field} of {len_bytes} bytes exceeds the protocol's limit of {max_bytes} bytes")]
    FieldTooLong {
        /// Which field did not fit, in words (`"topic"`, `"frame"`).
        field: &'static str,
        /// Its length.
        len_bytes: u64,
        /// The largest length its length prefix can carry.
        max_bytes: u64,
    },
}

impl ProtocolError {
    /// The error code a broker answers this error with.
    ///
    /// `Incomplete` and `FieldTooLong` are never answered (the first means "read more", the
    /// second is the sender's own problem); they map to `Malformed` so that every error has one.
    pub fn code(&self) -> ErrorCode {
        match self {
            ProtocolError::FrameTooLarge { .. } => ErrorCode::FrameTooLarge,
            ProtocolError::UnsupportedVersion { .. } => ErrorCode::UnsupportedVersion,
            ProtocolError::Incomplete | ProtocolError::Malformed(_) | ProtocolError::FieldTooLong { .. } => {
                ErrorCode::Malformed
            }
        }
    }
}

/// A request frame that could not be decoded, with what the broker needs to answer it.
///
/// The broker answers every decode error except `FrameTooLarge` with the request's correlation
/// id and keeps the connection, so it must know that id and where the next frame starts. Both
/// are filled in whenever the bytes that carry them were present.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("cannot decode request frame (correlation id {correlation_id:?}, frame bytes {frame_bytes:?})")]
pub struct DecodeError {
    /// The request's correlation id: `Some` once the length prefix was within the limit and the
    /// frame was long enough to hold one (length ≥ 6) and those bytes were in the buffer.
    /// Answer with `correlation_id.unwrap_or(0)`.
    pub correlation_id: Option<u32>,
    /// The whole frame's size, length prefix included: `Some` once the prefix was read and
    /// within the limit. Skipping this many bytes reaches the next frame.
    pub frame_bytes: Option<usize>,
    /// What was wrong.
    #[source]
    pub error: ProtocolError,
}

impl DecodeError {
    /// True when the buffer simply held less than a whole frame.
    pub fn is_incomplete(&self) -> bool {
        self.error == ProtocolError::Incomplete
    }
}

/// A response's `error` field when it is not 0: what the broker says went wrong.
///
/// Code 0 ("no error") is not an `ErrorCode`: [`ErrorCode::from_u16`] returns `None` for it,
/// and [`ErrorCode::Unknown`] holds a [`NonZeroU16`], so an error response can never be
/// encoded with code 0 (which would make the peer parse its message as a success body).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 1: the request did not parse (including a count larger than the bytes that follow, or
    /// a Produce of more than [`MAX_PRODUCE_MESSAGES`](super::frame::MAX_PRODUCE_MESSAGES)
    /// messages).
    Malformed,
    /// 2: unknown api or version.
    UnsupportedVersion,
    /// 3: the frame's length prefix exceeds the broker's limit; answered with correlation id 0.
    FrameTooLarge,
    /// 4: the topic name is not 1–249 of `[A-Za-z0-9._-]`, or is `.` or `..`.
    InvalidTopic,
    /// 5: fetch of a topic that does not exist.
    UnknownTopic,
    /// 6: a message exceeds the broker's `--max-message-bytes`.
    MessageTooLarge,
    /// 7: fetch past the end of the log: the offset the next record will get, counting only
    /// records visible to readers (under `--fsync always` the high watermark may be below it).
    OffsetOutOfRange,
    /// 8: the first record a fetch would serve fails its CRC.
    CorruptLog,
    /// 9: the broker is at `--max-connections`; answered with correlation id 0.
    TooManyConnections,
    /// 10: anything else that went wrong in the broker.
    Internal,
    /// 11: a Produce would create one topic more than the broker's `--max-topics`; existing
    /// topics keep working.
    TooManyTopics,
    /// 12: reading the frame would take the read buffers of all the broker's connections past
    /// `--max-buffered-bytes`; answered with correlation id 0, then the connection closes.
    BuffersFull,
    /// A code this build does not know (a newer broker's), kept as it came.
    Unknown(NonZeroU16),
}

impl ErrorCode {
    /// The code for a response's `error` field: `None` for 0 (no error), an unknown code kept
    /// as [`ErrorCode::Unknown`].
    pub fn from_u16(code: u16) -> Option<ErrorCode> {
        Some(match code {
            0 => return None,
            1 => ErrorCode::Malformed,
            2 => ErrorCode::UnsupportedVersion,
            3 => ErrorCode::FrameTooLarge,
            4 => ErrorCode::InvalidTopic,
            5 => ErrorCode::UnknownTopic,
            6 => ErrorCode::MessageTooLarge,
            7 => ErrorCode::OffsetOutOfRange,
            8 => ErrorCode::CorruptLog,
            9 => ErrorCode::TooManyConnections,
            10 => ErrorCode::Internal,
            11 => ErrorCode::TooManyTopics,
            12 => ErrorCode::BuffersFull,
            other => ErrorCode::Unknown(NonZeroU16::new(other)?),
        })
    }

    /// The value on the wire (never 0).
    pub fn as_u16(self) -> u16 {
        match self {
            ErrorCode::Malformed => 1,
            ErrorCode::UnsupportedVersion => 2,
            ErrorCode::FrameTooLarge => 3,
            ErrorCode::InvalidTopic => 4,
            ErrorCode::UnknownTopic => 5,
            ErrorCode::MessageTooLarge => 6,
            ErrorCode::OffsetOutOfRange => 7,
            ErrorCode::CorruptLog => 8,
            ErrorCode::TooManyConnections => 9,
            ErrorCode::Internal => 10,
            ErrorCode::TooManyTopics => 11,
            ErrorCode::BuffersFull => 12,
            ErrorCode::Unknown(code) => code.get(),
        }
    }

    /// The code's name as docs/protocol.md spells it (`"OffsetOutOfRange"`), `"Unknown"` for codes
    /// this build does not know.
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::Malformed => "Malformed",
            ErrorCode::UnsupportedVersion => "UnsupportedVersion",
            ErrorCode::FrameTooLarge => "FrameTooLarge",
            ErrorCode::InvalidTopic => "InvalidTopic",
            ErrorCode::UnknownTopic => "UnknownTopic",
            ErrorCode::MessageTooLarge => "MessageTooLarge",
            ErrorCode::OffsetOutOfRange => "OffsetOutOfRange",
            ErrorCode::CorruptLog => "CorruptLog",
            ErrorCode::TooManyConnections => "TooManyConnections",
            ErrorCode::Internal => "Internal",
            ErrorCode::TooManyTopics => "TooManyTopics",
            ErrorCode::BuffersFull => "BuffersFull",
            ErrorCode::Unknown(_) => "Unknown",
        }
    }
}

impl fmt::Display for ErrorCode {
    /// `OffsetOutOfRange (7)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.as_u16())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_code_round_trips_through_its_wire_value() {
        assert_eq!(ErrorCode::from_u16(0), None);
        for value in 1..=200u16 {
            let code = ErrorCode::from_u16(value).expect("non-zero codes are errors");
            assert_eq!(code.as_u16(), value);
        }
        assert_eq!(ErrorCode::from_u16(u16::MAX).map(ErrorCode::as_u16), Some(u16::MAX));
    }

    #[test]
    fn error_codes_have_the_values_of_the_design() {
        let expected = [
            (1, ErrorCode::Malformed),
            (2, ErrorCode::UnsupportedVersion),
            (3, ErrorCode::FrameTooLarge),
            (4, ErrorCode::InvalidTopic),
            (5, ErrorCode::UnknownTopic),
            (6, ErrorCode::MessageTooLarge),
            (7, ErrorCode::OffsetOutOfRange),
            (8, ErrorCode::CorruptLog),
            (9, ErrorCode::TooManyConnections),
            (10, ErrorCode::Internal),
            (11, ErrorCode::TooManyTopics),
            (12, ErrorCode::BuffersFull),
        ];
        for (value, code) in expected {
            assert_eq!(ErrorCode::from_u16(value), Some(code));
            assert_eq!(code.to_string(), format!("{} ({value})", code.name()));
        }
        assert!(matches!(ErrorCode::from_u16(13), Some(ErrorCode::Unknown(_))));
    }

    #[test]
    fn protocol_errors_map_to_their_codes() {
        let too_large = ProtocolError::FrameTooLarge { size: 9, max: 8 };
        assert_eq!(too_large.code(), ErrorCode::FrameTooLarge);
        let version = ProtocolError::UnsupportedVersion { api: 7, version: 0 };
        assert_eq!(version.code(), ErrorCode::UnsupportedVersion);
        assert_eq!(ProtocolError::Malformed("x".into()).code(), ErrorCode::Malformed);
    }
}
