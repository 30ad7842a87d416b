//! RDB, AOF and digest I/O for data types: from the server inside its callbacks, or from and to
//! bytes (how persistence is unit-tested and fuzzed without a server).

use crate::ffi::datatype::{DigestIo, Io};
use crate::{Error, RedisStr, Result};

/// The wording of every RDB read error, from the server or from bytes.
const CORRUPT: &str = "RDB data is truncated or corrupt";

/// Type tags of the [byte framing](RdbWriter#byte-framing): Redis's own module opcodes
/// (`RDB_MODULE_OPCODE_UINT`, `_DOUBLE`, `_STRING`).
const TAG_INT: u8 = 2;
const TAG_DOUBLE: u8 = 4;
const TAG_STRING: u8 = 5;

/// Writes a value to an RDB file or `DUMP` payload — or, made with [`to_buffer`](Self::to_buffer),
/// to a byte buffer, which is how a data type's persistence is unit-tested without a server.
///
/// ```
/// use rmkit::datatype::{RdbReader, RdbWriter};
///
/// let mut buf = Vec::new();
/// let mut rdb = RdbWriter::to_buffer(&mut buf);
/// rdb.save_u64(7);
/// rdb.save_bytes(b"seven");
///
/// let mut rdb = RdbReader::from_bytes(&buf);
/// assert_eq!(rdb.load_u64().unwrap(), 7);
/// assert_eq!(rdb.load_bytes().unwrap(), b"seven");
/// assert!(rdb.load_u64().is_err()); // nothing left
/// ```
/// [`data_type!`](crate::data_type!)'s example saves a whole value and loads it back.
///
/// # Byte framing
/// The buffer holds each saved item in order, as a one-byte type tag and its payload:
///
/// | method | tag | payload |
/// |---|---|---|
/// | [`save_u64`](Self::save_u64), [`save_i64`](Self::save_i64) | `2` | 8 bytes, little endian (`i64` as two's complement) |
/// | [`save_f64`](Self::save_f64) | `4` | the 8 bytes of the IEEE 754 value, little endian |
/// | [`save_bytes`](Self::save_bytes) | `5` | the length as 8 bytes little endian, then the bytes |
///
/// The tags are the opcodes Redis writes before each item of a module value, and
/// [`RdbReader::from_bytes`] checks them the way the server does: a double or a string where
/// the loader asks for an integer is an error, as it would be on `RESTORE`, while integers
/// saved signed may be loaded unsigned and back (Redis stores both as one unsigned opcode).
/// The framing is this crate's, not the RDB file format: it is for tests and fuzzing, not for
/// reading `DUMP` payloads.
pub struct RdbWriter<'a> {
    sink: Sink<'a>,
}

enum Sink<'a> {
    /// The I/O handle Redis passed to `rdb_save`.
    Server(Io<'a>),
    /// Items are appended in the byte framing.
    Buffer(&'a mut Vec<u8>),
}

impl<'a> RdbWriter<'a> {
    /// A writer appending to `buf` in the [byte framing](#byte-framing), for
    /// [`RdbReader::from_bytes`] to read back.
    pub fn to_buffer(buf: &'a mut Vec<u8>) -> Self {
        RdbWriter {
            sink: Sink::Buffer(buf),
        }
    }

    pub(crate) fn server(io: Io<'a>) -> Self {
        RdbWriter {
            sink: Sink::Server(io),
        }
    }

    fn push(buf: &mut Vec<u8>, tag: u8, word: [u8; 8]) {
        buf.push(tag);
        buf.extend_from_slice(&word);
    }

    /// Saves an unsigned integer.
    pub fn save_u64(&mut self, v: u64) {
        match &mut self.sink {
            Sink::Server(io) => io.save_unsigned(v),
            Sink::Buffer(buf) => Self::push(buf, TAG_INT, v.to_le_bytes()),
        }
    }

    /// Saves a signed integer.
    pub fn save_i64(&mut self, v: i64) {
        match &mut self.sink {
            Sink::Server(io) => io.save_signed(v),
            Sink::Buffer(buf) => Self::push(buf, TAG_INT, v.to_le_bytes()),
        }
    }

    /// Saves a double.
    pub fn save_f64(&mut self, v: f64) {
        match &mut self.sink {
            Sink::Server(io) => io.save_double(v),
            Sink::Buffer(buf) => Self::push(buf, TAG_DOUBLE, v.to_le_bytes()),
        }
    }

    /// Saves a binary-safe byte string.
    pub fn save_bytes(&mut self, v: &[u8]) {
        match &mut self.sink {
            Sink::Server(io) => io.save_bytes(v),
            Sink::Buffer(buf) => {
                Self::push(buf, TAG_STRING, (v.len() as u64).to_le_bytes());
                buf.extend_from_slice(v);
            }
        }
    }
}

/// Reads a value back, from the server or — made with [`from_bytes`](Self::from_bytes) — from
/// bytes written by [`RdbWriter::to_buffer`]. Every method returns an error
/// (`RDB data is truncated or corrupt`) once the stream is broken, so `?` is all a loader needs.
pub struct RdbReader<'a> {
    source: Source<'a>,
}

enum Source<'a> {
    /// The I/O handle Redis passed to `rdb_load`.
    Server(Io<'a>),
    /// What is left to read; emptied on the first error, so the stream stays broken.
    Bytes(&'a [u8]),
}

impl<'a> RdbReader<'a> {
    /// A reader of `bytes` in the [byte framing](RdbWriter#byte-framing) of
    /// [`RdbWriter::to_buffer`]. Reading past the end, an item of another type than the one
    /// asked for, or a string length beyond the remaining bytes is an error (with the server's
    /// wording); no read allocates more than the bytes remaining, whatever a length says, so
    /// arbitrary input is safe to load.
    pub fn from_bytes(bytes: &'a [u8]) -> Self {
        RdbReader {
            source: Source::Bytes(bytes),
        }
    }

    pub(crate) fn server(io: Io<'a>) -> Self {
        RdbReader {
            source: Source::Server(io),
        }
    }

    /// Lets the server serve other clients for a moment during a long load (they get
    /// `-LOADING ...`, or `-BUSY busy_reply` on a `RESTORE`, instead of waiting): call it every
    /// so often in an `rdb_load` that takes long. Does nothing when reading bytes.
    pub fn yield_to_clients(&mut self, busy_reply: &str) {
        if let Source::Server(io) = &mut self.source {
            io.yield_to_clients(busy_reply);
        }
    }

    fn check(io: &Io<'_>) -> Result<()> {
        if io.failed() {
            Err(Error::new(CORRUPT))
        } else {
            Ok(())
        }
    }

    /// The next 8-byte item tagged `tag`, from bytes.
    fn word(rest: &mut &'a [u8], tag: u8) -> Result<[u8; 8]> {
        let bytes: &'a [u8] = rest;
        match bytes.split_first_chunk::<9>() {
            Some((&[t, ref word @ ..], tail)) if t == tag => {
                *rest = tail;
                Ok(*word)
            }
            _ => Err(Self::broken(rest)),
        }
    }

    fn broken(rest: &mut &'a [u8]) -> Error {
        *rest = &[];
        Error::new(CORRUPT)
    }

    /// Loads an unsigned integer.
    pub fn load_u64(&mut self) -> Result<u64> {
        match &mut self.source {
            Source::Server(io) => {
                let v = io.load_unsigned();
                Self::check(io).map(|()| v)
            }
            Source::Bytes(rest) => Self::word(rest, TAG_INT).map(u64::from_le_bytes),
        }
    }

    /// Loads a signed integer.
    pub fn load_i64(&mut self) -> Result<i64> {
        match &mut self.source {
            Source::Server(io) => {
                let v = io.load_signed();
                Self::check(io).map(|()| v)
            }
            Source::Bytes(rest) => Self::word(rest, TAG_INT).map(i64::from_le_bytes),
        }
    }

    /// Loads a double.
    pub fn load_f64(&mut self) -> Result<f64> {
        match &mut self.source {
            Source::Server(io) => {
                let v = io.load_double();
                Self::check(io).map(|()| v)
            }
            Source::Bytes(rest) => Self::word(rest, TAG_DOUBLE).map(f64::from_le_bytes),
        }
    }

    /// Loads a byte string.
    pub fn load_bytes(&mut self) -> Result<Vec<u8>> {
        match &mut self.source {
            Source::Server(io) => io.load_bytes().ok_or_else(|| Error::new(CORRUPT)),
            Source::Bytes(rest) => {
                let len = u64::from_le_bytes(Self::word(rest, TAG_STRING)?);
                // Checked before anything is allocated: a corrupt length cannot over-allocate.
                match usize::try_from(len) {
                    Ok(len) if len <= rest.len() => {
                        let (bytes, tail) = (*rest).split_at(len);
                        *rest = tail;
                        Ok(bytes.to_vec())
                    }
                    _ => Err(Self::broken(rest)),
                }
            }
        }
    }
}

/// Emits the commands of an AOF rewrite.
pub struct AofWriter<'a> {
    io: Io<'a>,
}

impl<'a> AofWriter<'a> {
    pub(crate) fn new(io: Io<'a>) -> Self {
        AofWriter { io }
    }

    /// Appends `command key args...` to the rewritten AOF (any number of arguments).
    pub fn emit(&mut self, command: &str, key: &RedisStr, args: &[&[u8]]) {
        self.io.emit_aof(command, key, args);
    }
}

/// Feeds `DEBUG DIGEST-VALUE`.
pub struct Digest<'a> {
    md: DigestIo<'a>,
}

impl<'a> Digest<'a> {
    pub(crate) fn new(md: DigestIo<'a>) -> Self {
        Digest { md }
    }

    /// Adds bytes to the current sequence.
    pub fn add(&mut self, bytes: &[u8]) {
        self.md.add(bytes);
    }

    /// Ends a sequence (an ordered group of additions).
    pub fn end_sequence(&mut self) {
        self.md.end_sequence();
    }
}

#[cfg(test)]
mod tests {
    use super::{RdbReader, RdbWriter};

    /// `Error::new(super::CORRUPT).message()`.
    const CORRUPT: &str = "ERR RDB data is truncated or corrupt";

    fn saved(f: impl FnOnce(&mut RdbWriter<'_>)) -> Vec<u8> {
        let mut buf = Vec::new();
        f(&mut RdbWriter::to_buffer(&mut buf));
        buf
    }

    #[test]
    fn buffer_framing_is_a_tag_and_little_endian_words() {
        let buf = saved(|w| {
            w.save_u64(0x0102_0304_0506_0708);
            w.save_i64(-2);
            w.save_f64(1.5);
            w.save_bytes(b"ab");
        });
        let mut expected = vec![2, 8, 7, 6, 5, 4, 3, 2, 1];
        expected.extend([2, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
        expected.push(4);
        expected.extend(1.5f64.to_le_bytes());
        expected.extend([5, 2, 0, 0, 0, 0, 0, 0, 0, b'a', b'b']);
        assert_eq!(buf, expected);
    }

    #[test]
    fn buffer_appends_to_what_it_holds() {
        let mut buf = b"head".to_vec();
        RdbWriter::to_buffer(&mut buf).save_bytes(b"");
        assert_eq!(buf, b"head\x05\0\0\0\0\0\0\0\0");
    }

    #[test]
    fn every_item_loads_back_bit_for_bit() {
        let floats = [
            0.0,
            -0.0,
            1e-310,
            f64::MAX,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ];
        let blob: Vec<u8> = (0..=255).collect();
        let buf = saved(|w| {
            for v in [0, 1, u64::MAX] {
                w.save_u64(v);
            }
            for v in [i64::MIN, -1, i64::MAX] {
                w.save_i64(v);
            }
            for v in floats {
                w.save_f64(v);
            }
            w.save_bytes(b"");
            w.save_bytes(&blob);
        });
        let mut r = RdbReader::from_bytes(&buf);
        for v in [0, 1, u64::MAX] {
            assert_eq!(r.load_u64().unwrap(), v);
        }
        for v in [i64::MIN, -1, i64::MAX] {
            assert_eq!(r.load_i64().unwrap(), v);
        }
        for v in floats {
            assert_eq!(r.load_f64().unwrap().to_bits(), v.to_bits());
        }
        assert_eq!(r.load_bytes().unwrap(), b"");
        assert_eq!(r.load_bytes().unwrap(), blob);
        assert_eq!(r.load_u64().unwrap_err().message(), CORRUPT);
    }

    #[test]
    fn signed_and_unsigned_integers_share_one_tag_like_on_the_server() {
        let buf = saved(|w| {
            w.save_i64(-1);
            w.save_u64(u64::MAX);
        });
        let mut r = RdbReader::from_bytes(&buf);
        assert_eq!(r.load_u64().unwrap(), u64::MAX);
        assert_eq!(r.load_i64().unwrap(), -1);
    }

    #[test]
    fn an_item_of_another_type_is_corrupt() {
        let int = saved(|w| w.save_u64(1));
        let double = saved(|w| w.save_f64(1.0));
        let string = saved(|w| w.save_bytes(b"12345678"));
        assert_eq!(
            RdbReader::from_bytes(&double)
                .load_u64()
                .unwrap_err()
                .message(),
            CORRUPT
        );
        assert_eq!(
            RdbReader::from_bytes(&string)
                .load_i64()
                .unwrap_err()
                .message(),
            CORRUPT
        );
        assert_eq!(
            RdbReader::from_bytes(&int)
                .load_f64()
                .unwrap_err()
                .message(),
            CORRUPT
        );
        assert_eq!(
            RdbReader::from_bytes(&int)
                .load_bytes()
                .unwrap_err()
                .message(),
            CORRUPT
        );
    }

    #[test]
    fn every_truncation_is_an_error_never_a_panic() {
        let buf = saved(|w| {
            w.save_u64(7);
            w.save_bytes(b"seven");
            w.save_f64(7.0);
        });
        for end in 0..buf.len() {
            let mut r = RdbReader::from_bytes(&buf[..end]);
            let result = r
                .load_u64()
                .and_then(|_| r.load_bytes())
                .and_then(|_| r.load_f64());
            assert_eq!(result.unwrap_err().message(), CORRUPT, "cut at {end}");
        }
        let mut r = RdbReader::from_bytes(&buf);
        assert!(r.load_u64().is_ok() && r.load_bytes().is_ok() && r.load_f64().is_ok());
    }

    #[test]
    fn a_length_beyond_the_input_is_refused_before_allocating() {
        // Each length would need far more memory than the input: allocating it first would
        // abort the test (or panic with a capacity overflow) instead of returning an error.
        for len in [4, 1 << 40, u64::MAX >> 1, u64::MAX] {
            let mut buf = vec![5];
            buf.extend(u64::to_le_bytes(len));
            buf.extend(b"abc");
            let err = RdbReader::from_bytes(&buf).load_bytes().unwrap_err();
            assert_eq!(err.message(), CORRUPT, "length {len}");
        }
    }

    #[test]
    fn a_broken_stream_stays_broken() {
        // A double where an integer is asked for, then a valid integer: the second read fails
        // too, as the server's I/O error flag stays set.
        let buf = saved(|w| {
            w.save_f64(1.0);
            w.save_u64(2);
        });
        let mut r = RdbReader::from_bytes(&buf);
        assert!(r.load_u64().is_err());
        assert!(r.load_f64().is_err());
        assert!(r.load_u64().is_err());
    }
}
