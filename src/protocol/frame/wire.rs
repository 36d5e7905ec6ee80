//! The codec's byte-level helpers: framing and counted fields on the way out, a bounds-checked
//! cursor on the way in.

use super::{Api, LENGTH_PREFIX_BYTES, VERSION};
use crate::protocol::error::ProtocolError;

/// Runs `body` to append a frame's contents after a placeholder length prefix, then writes the
/// real length. On failure, `out` is truncated back to where it was.
pub(super) fn encode_frame(
    out: &mut Vec<u8>,
    body: impl FnOnce(&mut Vec<u8>) -> Result<(), ProtocolError>,
) -> Result<(), ProtocolError> {
    let start = out.len();
    out.extend_from_slice(&[0; LENGTH_PREFIX_BYTES]);
    let result = body(out).and_then(|()| {
        let length = out.len() - start - LENGTH_PREFIX_BYTES;
        u32::try_from(length).map_err(|_| too_long("frame", length, u32::MAX.into()))
    });
    match result {
        Ok(length) => {
            out[start..start + LENGTH_PREFIX_BYTES].copy_from_slice(&length.to_be_bytes());
            Ok(())
        }
        Err(error) => {
            out.truncate(start);
            Err(error)
        }
    }
}

/// Appends a `u32` count followed by each item, patching the count once the items are known.
pub(super) fn put_counted<T>(
    out: &mut Vec<u8>,
    items: impl IntoIterator<Item = T>,
    field: &'static str,
    mut put_item: impl FnMut(&mut Vec<u8>, T) -> Result<(), ProtocolError>,
) -> Result<(), ProtocolError> {
    let count_at = out.len();
    out.extend_from_slice(&[0; 4]);
    let mut count = 0usize;
    for item in items {
        put_item(out, item)?;
        count += 1;
    }
    let count = u32::try_from(count).map_err(|_| too_long(field, count, u32::MAX.into()))?;
    out[count_at..count_at + 4].copy_from_slice(&count.to_be_bytes());
    Ok(())
}

pub(super) fn put_request_header(out: &mut Vec<u8>, api: Api, correlation_id: u32) {
    out.push(api.as_u8());
    out.push(VERSION);
    out.extend_from_slice(&correlation_id.to_be_bytes());
}

pub(super) fn put_response_header(out: &mut Vec<u8>, correlation_id: u32) {
    out.extend_from_slice(&correlation_id.to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes());
}

/// `string`: `u16 length | UTF-8`.
pub(super) fn put_string(out: &mut Vec<u8>, value: &str, field: &'static str) -> Result<(), ProtocolError> {
    let length = u16::try_from(value.len()).map_err(|_| too_long(field, value.len(), u16::MAX.into()))?;
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(value.as_bytes());
    Ok(())
}

/// `bytes`: `u32 length | bytes`.
pub(super) fn put_bytes(out: &mut Vec<u8>, value: &[u8], field: &'static str) -> Result<(), ProtocolError> {
    let length = u32::try_from(value.len()).map_err(|_| too_long(field, value.len(), u32::MAX.into()))?;
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(value);
    Ok(())
}

pub(super) fn too_long(field: &'static str, len_bytes: usize, max_bytes: u64) -> ProtocolError {
    ProtocolError::FieldTooLong { field, len_bytes: len_bytes as u64, max_bytes }
}

pub(super) fn be_u32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0, |value, &byte| (value << 8) | u32::from(byte))
}

// ---------------------------------------------------------------------------------------------
// Decoding helper
// ---------------------------------------------------------------------------------------------

/// A cursor over one whole frame's bytes. Running out of bytes here is `Malformed`, never
/// `Incomplete`: the caller only builds a reader once the whole frame is present.
pub(super) struct Reader<'a> {
    /// The bytes not yet read.
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(super) fn new(frame: &'a [u8]) -> Reader<'a> {
        Reader { rest: frame }
    }

    pub(super) fn remaining(&self) -> usize {
        self.rest.len()
    }

    pub(super) fn take(&mut self, len_bytes: usize, what: &str) -> Result<&'a [u8], ProtocolError> {
        if self.rest.len() < len_bytes {
            return Err(ProtocolError::Malformed(format!(
                "{what} needs {len_bytes} bytes but only {} remain in the frame",
                self.rest.len()
            )));
        }
        let (taken, rest) = self.rest.split_at(len_bytes);
        self.rest = rest;
        Ok(taken)
    }

    pub(super) fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], ProtocolError> {
        let Some((array, rest)) = self.rest.split_first_chunk::<N>() else {
            return Err(ProtocolError::Malformed(format!(
                "{what} needs {N} bytes but only {} remain in the frame",
                self.rest.len()
            )));
        };
        self.rest = rest;
        Ok(*array)
    }

    pub(super) fn u16(&mut self, what: &str) -> Result<u16, ProtocolError> {
        self.array(what).map(u16::from_be_bytes)
    }

    pub(super) fn u32(&mut self, what: &str) -> Result<u32, ProtocolError> {
        self.array(what).map(u32::from_be_bytes)
    }

    pub(super) fn u64(&mut self, what: &str) -> Result<u64, ProtocolError> {
        self.array(what).map(u64::from_be_bytes)
    }

    /// `string`: `u16 length | UTF-8`.
    pub(super) fn string(&mut self, what: &str) -> Result<String, ProtocolError> {
        self.str(what).map(str::to_owned)
    }

    /// `string`, borrowed from the frame.
    pub(super) fn str(&mut self, what: &str) -> Result<&'a str, ProtocolError> {
        let length = self.u16(what)?;
        let bytes = self.take(usize::from(length), what)?;
        std::str::from_utf8(bytes)
            .map_err(|error| ProtocolError::Malformed(format!("{what} is not valid UTF-8 ({error})")))
    }

    /// `bytes`: `u32 length | bytes`.
    pub(super) fn bytes(&mut self, what: &str) -> Result<&'a [u8], ProtocolError> {
        let length = self.u32(what)?;
        self.take(length as usize, what)
    }

    /// A `u32` count of items that take at least `min_item_bytes` each, checked against the
    /// bytes that remain before anyone reserves room for that many.
    pub(super) fn count(&mut self, what: &str, min_item_bytes: usize) -> Result<usize, ProtocolError> {
        let count = self.u32(what)? as usize;
        match count.checked_mul(min_item_bytes) {
            Some(needed) if needed <= self.rest.len() => Ok(count),
            _ => Err(ProtocolError::Malformed(format!(
                "{what} count {count} needs at least {} bytes but only {} remain in the frame",
                (count as u64) * (min_item_bytes as u64),
                self.rest.len()
            ))),
        }
    }

    /// Succeeds only when every byte was read.
    pub(super) fn finish(&self, what: &str) -> Result<(), ProtocolError> {
        match self.rest.len() {
            0 => Ok(()),
            trailing => {
                Err(ProtocolError::Malformed(format!("{trailing} trailing bytes after the {what} body")))
            }
        }
    }
}
