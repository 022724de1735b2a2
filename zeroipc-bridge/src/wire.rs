//! The bridge's messages on zenoh: a fixed 40-byte little-endian header, then the payload.
//!
//! | off | type | field |
//! |---|---|---|
//! | 0 | u8 | `version` (1) |
//! | 1 | u8 | `kind` ([`Kind`]) |
//! | 2 | u16 | `flags` (bit 0: closed; bit 1: `id` holds a source position) |
//! | 4 | u32 | `elem_size` (bytes per item; 0 for credit and frame messages) |
//! | 8 | u64 | `epoch` — the exporter's incarnation (random, never 0) |
//! | 16 | u64 | `seq` — first item's sequence number (data), next expected (credit) |
//! | 24 | u64 | `count` (data: items) or `limit` (credit: items the importer can take) |
//! | 32 | u64 | `id` — the importer's id (credit), the ZeroBuffer frame sequence (frame), the source position (data and close with [`FLAG_POSITION`]) |
//!
//! A *source position* is the local Stream's own number of the first item of a data message
//! (of the item after the last one for a close): [`zeroipc_codata::Subscription::position`].
//! It lets an importer count exactly what a restarted exporter skipped.
//!
//! Nothing read from the network is trusted: [`Msg::decode`] checks the version, the kind and
//! that the payload length is exactly `count * elem_size`.

use crate::error::{Error, Result};

/// Header length in bytes.
pub const HEADER: usize = 40;
/// The only version this build speaks.
pub const VERSION: u8 = 1;
/// `flags` bit: the source was closed; `seq` is the final sequence number.
pub const FLAG_CLOSED: u16 = 1;
/// `flags` bit of data and close messages: `id` is the source position (see the module docs).
pub const FLAG_POSITION: u16 = 2;

/// Message kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// Items `seq .. seq + count` (exporter → importers).
    Data = 1,
    /// The source closed after `seq` items (exporter → importers).
    Close = 2,
    /// Flow control: importer `id` has taken every item before `seq` and can take items
    /// before `limit` (importer → exporter).
    Credit = 3,
    /// One ZeroBuffer frame, link sequence `seq`, source frame sequence `id`.
    Frame = 4,
    /// The ZeroBuffer's metadata block (payload), at link sequence `seq`.
    Metadata = 5,
}

impl Kind {
    fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            1 => Self::Data,
            2 => Self::Close,
            3 => Self::Credit,
            4 => Self::Frame,
            5 => Self::Metadata,
            _ => return None,
        })
    }
}

/// A decoded header plus a borrowed payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Msg<'a> {
    /// The kind.
    pub kind: Kind,
    /// Flag bits.
    pub flags: u16,
    /// Bytes per item (data).
    pub elem_size: u32,
    /// The exporter's incarnation.
    pub epoch: u64,
    /// Sequence number (see the module docs).
    pub seq: u64,
    /// Item count (data) or credit limit (credit).
    pub count: u64,
    /// Importer id (credit) or frame sequence (frame).
    pub id: u64,
    /// What follows the header (its first piece, for a message decoded by
    /// [`Msg::decode_pieces`]).
    pub payload: &'a [u8],
    /// The payload's further pieces: a frame message decoded by [`Msg::decode_pieces`] keeps
    /// the pieces zenoh received it in. Empty for every other message.
    pub rest: &'a [&'a [u8]],
}

impl<'a> Msg<'a> {
    /// A message without payload.
    pub fn new(kind: Kind, epoch: u64, seq: u64, count: u64, id: u64) -> Self {
        Self {
            kind,
            flags: 0,
            elem_size: 0,
            epoch,
            seq,
            count,
            id,
            payload: &[],
            rest: &[],
        }
    }

    /// The payload's length in bytes, over all its pieces.
    pub fn payload_len(&self) -> usize {
        self.rest
            .iter()
            .fold(self.payload.len(), |n, p| n.saturating_add(p.len()))
    }

    /// The payload's pieces in order: [`Msg::payload`], then [`Msg::rest`].
    pub fn pieces(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        std::iter::once(self.payload).chain(self.rest.iter().copied())
    }

    /// Appends the encoded header (not the payload) to `out`.
    pub fn encode_header(&self, out: &mut Vec<u8>) {
        out.push(VERSION);
        out.push(self.kind as u8);
        out.extend_from_slice(&self.flags.to_le_bytes());
        out.extend_from_slice(&self.elem_size.to_le_bytes());
        out.extend_from_slice(&self.epoch.to_le_bytes());
        out.extend_from_slice(&self.seq.to_le_bytes());
        out.extend_from_slice(&self.count.to_le_bytes());
        out.extend_from_slice(&self.id.to_le_bytes());
    }

    /// The encoded message (header and payload).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER + self.payload.len());
        self.encode_header(&mut out);
        out.extend_from_slice(self.payload);
        out
    }

    /// Decodes and validates `buf`.
    ///
    /// # Errors
    /// [`Error::Wire`] for a short buffer, another version, an unknown kind, or a data
    /// payload whose length is not `count * elem_size`.
    pub fn decode(buf: &'a [u8]) -> Result<Self> {
        Self::decode_split(buf, &[])
    }

    /// Decodes a message received in `pieces` without joining them (zenoh keeps a
    /// fragmented message in the pieces it arrived in): the header lies in the first piece,
    /// the payload is the rest of it and the further pieces ([`Msg::rest`]).
    ///
    /// # Errors
    /// As [`Msg::decode`]; also [`Error::Wire`] when the first piece is shorter than the
    /// header, or a message other than a frame comes in more than one piece (join those and
    /// use [`Msg::decode`]).
    pub fn decode_pieces(pieces: &'a [&'a [u8]]) -> Result<Self> {
        let (first, rest): (&[u8], &[&[u8]]) =
            pieces.split_first().map_or((&[], &[]), |(f, r)| (*f, r));
        let m = Self::decode_split(first, rest)?;
        if !rest.is_empty() && m.kind != Kind::Frame {
            return Err(Error::Wire(format!(
                "a {:?} message in {} pieces: only frames are decoded in pieces",
                m.kind,
                pieces.len()
            )));
        }
        Ok(m)
    }

    fn decode_split(buf: &'a [u8], rest: &'a [&'a [u8]]) -> Result<Self> {
        let (head, payload) = buf.split_at_checked(HEADER).ok_or_else(|| {
            Error::Wire(format!("{} bytes, the header needs {HEADER}", buf.len()))
        })?;
        let u64_at = |o: usize| -> u64 {
            let mut b = [0u8; 8];
            b.copy_from_slice(head.get(o..o + 8).unwrap_or(&[0; 8]));
            u64::from_le_bytes(b)
        };
        let version = head.first().copied().unwrap_or(0);
        if version != VERSION {
            return Err(Error::Wire(format!(
                "version {version}, this bridge speaks {VERSION}: run the same zeroipc-bridge \
                 version on both ends"
            )));
        }
        let k = head.get(1).copied().unwrap_or(0);
        let kind = Kind::from_u8(k).ok_or_else(|| Error::Wire(format!("unknown kind {k}")))?;
        let flags = u16::from_le_bytes([head[2], head[3]]);
        let elem_size = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        let m = Self {
            kind,
            flags,
            elem_size,
            epoch: u64_at(8),
            seq: u64_at(16),
            count: u64_at(24),
            id: u64_at(32),
            payload,
            rest,
        };
        let len = m.payload_len();
        if kind == Kind::Frame && (m.count != 1 || len == 0) {
            return Err(Error::Wire(format!(
                "frame message with count {} and {len} payload bytes (one non-empty frame \
                 expected)",
                m.count
            )));
        }
        if kind == Kind::Data {
            let want = m.count.checked_mul(u64::from(elem_size));
            if want != Some(len as u64) || elem_size == 0 {
                return Err(Error::Wire(format!(
                    "data message of {} items of {elem_size} bytes carries {len} bytes",
                    m.count
                )));
            }
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn round_trip_and_validation() {
        let items = [1u8, 2, 3, 4, 5, 6, 7, 8];
        let m = Msg {
            elem_size: 4,
            payload: &items,
            ..Msg::new(Kind::Data, 9, 100, 2, 0)
        };
        let buf = m.encode();
        assert_eq!(buf.len(), HEADER + 8);
        assert_eq!(Msg::decode(&buf).unwrap(), m);
        // Wrong payload length, short header, other version, unknown kind.
        assert!(Msg::decode(&buf[..buf.len() - 1]).is_err());
        assert!(Msg::decode(&buf[..10]).is_err());
        let mut v = buf.clone();
        v[0] = 2;
        assert!(Msg::decode(&v).is_err());
        let mut k = buf;
        k[1] = 99;
        assert!(Msg::decode(&k).is_err());
    }

    #[test]
    fn a_frame_in_pieces_decodes_without_joining() {
        let frame: Vec<u8> = (0..=255).collect();
        let whole = Msg {
            payload: &frame,
            ..Msg::new(Kind::Frame, 7, 3, 1, 42)
        }
        .encode();
        for cut in [HEADER, HEADER + 1, HEADER + 100, whole.len() - 1] {
            let (a, b) = whole.split_at(cut);
            let (b1, b2) = b.split_at(b.len() / 2);
            let pieces = [a, b1, b2];
            let m = Msg::decode_pieces(&pieces).unwrap();
            assert_eq!((m.kind, m.epoch, m.seq, m.id), (Kind::Frame, 7, 3, 42));
            assert_eq!(m.payload_len(), frame.len());
            assert_eq!(m.pieces().collect::<Vec<_>>().concat(), frame);
        }
        // One piece: the same as `decode`.
        let one = [&whole[..]];
        assert_eq!(
            Msg::decode_pieces(&one).unwrap(),
            Msg::decode(&whole).unwrap()
        );
        // The header split across pieces, no pieces, a frame whose pieces are all empty.
        let split = [&whole[..HEADER - 1], &whole[HEADER - 1..]];
        assert!(Msg::decode_pieces(&split).is_err());
        assert!(Msg::decode_pieces(&[]).is_err());
        let head = [&whole[..HEADER], &[][..]];
        assert!(Msg::decode_pieces(&head).is_err());
        // Only frames come in pieces: a data message so is refused, even if well formed.
        let data = Msg {
            elem_size: 8,
            payload: &[1; 16],
            ..Msg::new(Kind::Data, 1, 0, 2, 0)
        }
        .encode();
        let (d1, d2) = data.split_at(HEADER + 8);
        assert!(Msg::decode_pieces(&[d1, d2]).is_err());
        assert!(Msg::decode_pieces(&[&data[..]]).is_ok());
    }

    /// Cuts `bytes` at the sorted `cuts` (taken modulo its length plus one).
    fn cut<'a>(bytes: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
        let mut at: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
        at.sort_unstable();
        let mut pieces = Vec::new();
        let mut from = 0;
        for a in at.into_iter().chain([bytes.len()]) {
            pieces.push(&bytes[from..a]);
            from = a;
        }
        pieces
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 2000,
            failure_persistence: None,
            ..proptest::prelude::ProptestConfig::default()
        })]

        /// Whatever a peer sends, cut anywhere, decoding returns (never panics), and a
        /// message decoded in pieces is the message decoded whole.
        #[test]
        fn any_bytes_in_any_pieces_decode_as_the_whole_or_fail(
            version in proptest::prop_oneof![proptest::strategy::Just(VERSION), 0u8..4],
            kind in 0u8..7,
            elem_size in 0u32..5,
            (epoch, seq, id) in (1u64.., 0u64.., 0u64..),
            valid_count in proptest::bool::ANY,
            count in 0u64..1000,
            header_len in proptest::prop_oneof![
                3 => proptest::strategy::Just(HEADER),
                1 => 0..HEADER,
            ],
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..300),
            cuts in proptest::collection::vec(0usize..400, 0..5),
        ) {
            // Mostly well-formed headers (a frame's count 1, a data message's length), with
            // any fields, versions, kinds, counts and lengths besides, and truncations.
            let count = match (valid_count, kind) {
                (true, 4) => 1,
                (true, _) => (body.len() as u64).checked_div(u64::from(elem_size)).unwrap_or(0),
                (false, _) => count,
            };
            let mut bytes = vec![version, kind, 0, 0];
            bytes.extend_from_slice(&elem_size.to_le_bytes());
            for v in [epoch, seq, count, id] {
                bytes.extend_from_slice(&v.to_le_bytes());
            }
            bytes.truncate(header_len);
            bytes.extend_from_slice(&body);
            let pieces = cut(&bytes, &cuts);
            let whole = Msg::decode(&bytes);
            match Msg::decode_pieces(&pieces) {
                Ok(m) => {
                    let w = whole.expect("decodes in pieces, so decodes whole");
                    proptest::prop_assert_eq!(m.payload_len(), w.payload.len());
                    proptest::prop_assert_eq!(m.pieces().collect::<Vec<_>>().concat(), w.payload);
                    proptest::prop_assert_eq!(
                        (m.kind, m.flags, m.elem_size, m.epoch, m.seq, m.count, m.id),
                        (w.kind, w.flags, w.elem_size, w.epoch, w.seq, w.count, w.id)
                    );
                    proptest::prop_assert!(m.rest.is_empty() || m.kind == Kind::Frame);
                }
                // Refused in pieces: refused whole, or in more than one piece with the
                // header split or a message that is not a frame.
                Err(_) => {
                    let why = match whole {
                        Err(_) => true,
                        Ok(w) => {
                            pieces.len() > 1
                                && (pieces[0].len() < HEADER || w.kind != Kind::Frame)
                        }
                    };
                    proptest::prop_assert!(why);
                }
            }
        }
    }
}
