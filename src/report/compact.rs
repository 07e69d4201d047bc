//! Compact JSON into a `Vec<u8>`, byte for byte what `serde_json::to_writer` writes, for
//! the sessions of `--format json`/`jsonl`/`eve`: strings that need no escape (nearly all)
//! are checked many bytes at a time and copied whole (serde_json looks at every byte
//! through a table, a sixth of the time of a report of many short sessions), and nothing
//! goes through `io::Write`. The JSON document's layout (its top levels one member a
//! line) is written the same way, a level count deciding what is laid out.

use serde::ser;
use serde::Serialize;
use std::fmt;
use std::io;

/// An error a `Serialize` implementation raised (the model's never do), or the laid-out
/// document's sink failed (kept whole: a closed pipe stays a closed pipe).
#[derive(Debug)]
pub struct Error(String, Option<io::Error>);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error(msg.to_string(), None)
    }
}

impl Error {
    fn msg(msg: impl Into<String>) -> Self {
        Error(msg.into(), None)
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error(e.to_string(), Some(e))
    }
}

impl From<Error> for std::io::Error {
    fn from(e: Error) -> Self {
        match e.1 {
            Some(io) => io,
            None => std::io::Error::other(e),
        }
    }
}

/// Append `v` as compact JSON to `out` (as `serde_json::to_writer` would write it).
pub fn to_vec<T: Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) -> Result<(), Error> {
    v.serialize(&mut Writer::<false> {
        out,
        pretty_levels: 0,
        depth: 0,
        sink: None,
    })
}

/// Bytes a laid-out document gathers before they go to its sink.
const CHUNK: usize = 64 << 10;

/// Write `v` to `sink` with its containers down to `pretty_levels` deep laid out one
/// member a line (two spaces a level, `": "` after a key), everything deeper compact;
/// written in pieces of about [`CHUNK`] bytes as it grows.
pub fn to_writer_laid_out<T: Serialize + ?Sized>(
    sink: &mut dyn io::Write,
    v: &T,
    pretty_levels: u32,
) -> io::Result<()> {
    let mut out = Vec::with_capacity(CHUNK + 1024);
    let mut w = Writer::<true> {
        out: &mut out,
        pretty_levels,
        depth: 0,
        sink: Some(sink),
    };
    v.serialize(&mut w)?;
    w.sink.take().map_or(Ok(()), |s| s.write_all(w.out))
}

/// Whether a JSON string of these bytes needs an escape: 16 bytes at a time without a
/// branch (the compiler turns each block into a few vector instructions); the last,
/// short block as the string's last 16 bytes (padded when it is shorter).
#[inline]
fn needs_escape(b: &[u8]) -> bool {
    #[inline(always)]
    fn bad(block: &[u8; 16]) -> bool {
        let mut m = 0u8;
        for &c in block {
            m |= u8::from(c < 0x20) | u8::from(c == b'"') | u8::from(c == b'\\');
        }
        m != 0
    }
    let mut blocks = b.chunks_exact(16);
    for block in &mut blocks {
        if bad(block.try_into().expect("16 bytes")) {
            return true;
        }
    }
    let rest = blocks.remainder();
    if rest.is_empty() {
        return false;
    }
    // The last 16 bytes, overlapping blocks already checked (no copy into a padded block).
    if let Some(tail) = b.len().checked_sub(16).and_then(|at| b.get(at..)) {
        return bad(tail.try_into().expect("16 bytes"));
    }
    let mut last = [b' '; 16];
    last[..rest.len()].copy_from_slice(rest);
    bad(&last)
}

/// Whether any byte of the word needs an escape (below 0x20, `"` or `\\`): the exact
/// "has a byte less than / equal to" word tests.
#[inline(always)]
fn word_needs_escape(x: u64) -> bool {
    const ONES: u64 = u64::MAX / 255;
    const HIGH: u64 = ONES * 0x80;
    let below = x.wrapping_sub(ONES * 0x20) & !x;
    let q = x ^ (ONES * u64::from(b'"'));
    let quote = q.wrapping_sub(ONES) & !q;
    let s = x ^ (ONES * u64::from(b'\\'));
    let backslash = s.wrapping_sub(ONES) & !s;
    (below | quote | backslash) & HIGH != 0
}

#[inline(always)]
fn word8(b: &[u8]) -> u64 {
    u64::from_le_bytes(b.try_into().expect("8 bytes"))
}

#[inline(always)]
fn word4(b: &[u8]) -> u32 {
    u32::from_le_bytes(b.try_into().expect("4 bytes"))
}

/// A string of at most 16 bytes that needs no escape, written with fixed-size copies
/// (two overlapping words) instead of a `memcpy` call; `false` (nothing written) when it
/// is longer or needs an escape.
#[inline(always)]
fn write_short(out: &mut Vec<u8>, b: &[u8]) -> bool {
    let n = b.len();
    if n > 16 {
        return false;
    }
    let p = out.len();
    if n >= 8 {
        let (head, tail) = (word8(&b[..8]), word8(&b[n - 8..]));
        if word_needs_escape(head) || word_needs_escape(tail) {
            return false;
        }
        out.extend_from_slice(&[b'"'; 18]);
        out[p + 1..p + 9].copy_from_slice(&head.to_le_bytes());
        out[p + 1 + n - 8..p + 1 + n].copy_from_slice(&tail.to_le_bytes());
    } else if n >= 4 {
        let (head, tail) = (word4(&b[..4]), word4(&b[n - 4..]));
        if word_needs_escape(u64::from(head) | u64::from(tail) << 32) {
            return false;
        }
        out.extend_from_slice(&[b'"'; 18]);
        out[p + 1..p + 5].copy_from_slice(&head.to_le_bytes());
        out[p + 1 + n - 4..p + 1 + n].copy_from_slice(&tail.to_le_bytes());
    } else {
        if b.iter().any(|&c| c < 0x20 || c == b'"' || c == b'\\') {
            return false;
        }
        out.extend_from_slice(&[b'"'; 18]);
        for (i, &c) in b.iter().enumerate() {
            out[p + 1 + i] = c;
        }
    }
    // The closing quote is the one after the copies.
    out.truncate(p + n + 2);
    true
}

/// `s` as a JSON string, escaped as serde_json escapes.
fn write_str(out: &mut Vec<u8>, s: &str) {
    let b = s.as_bytes();
    if write_short(out, b) {
        return;
    }
    out.reserve(b.len() + 2);
    out.push(b'"');
    if !needs_escape(b) {
        out.extend_from_slice(b);
    } else {
        let mut start = 0;
        for (i, &c) in b.iter().enumerate() {
            let esc: &[u8] = match c {
                b'"' => b"\\\"",
                b'\\' => b"\\\\",
                0x08 => b"\\b",
                b'\t' => b"\\t",
                b'\n' => b"\\n",
                0x0c => b"\\f",
                b'\r' => b"\\r",
                0..=0x1f => &[],
                _ => continue,
            };
            out.extend_from_slice(&b[start..i]);
            start = i + 1;
            if esc.is_empty() {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[(c >> 4) as usize],
                    HEX[(c & 0xf) as usize],
                ]);
            } else {
                out.extend_from_slice(esc);
            }
        }
        out.extend_from_slice(&b[start..]);
    }
    out.push(b'"');
}

/// The decimal digits of `n`.
#[inline]
fn write_u64(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

#[inline]
fn write_i64(out: &mut Vec<u8>, n: i64) {
    if n < 0 {
        out.push(b'-');
    }
    write_u64(out, n.unsigned_abs());
}

/// Anything else serde_json's way (floats: the same shortest form).
fn via_serde_json<T: Serialize>(out: &mut Vec<u8>, v: &T) -> Result<(), Error> {
    serde_json::to_writer(&mut *out, v).map_err(|e| Error::msg(e.to_string()))
}

/// `LAID`: the layout's bookkeeping is compiled in (false: compact, with none of it).
struct Writer<'a, const LAID: bool> {
    out: &'a mut Vec<u8>,
    /// Containers opened at a depth below this are laid out (0: all compact).
    pretty_levels: u32,
    /// Containers open.
    depth: u32,
    /// Where a laid-out document goes between its members, once `out` holds [`CHUNK`].
    sink: Option<&'a mut dyn io::Write>,
}

impl<'a, const LAID: bool> Writer<'a, LAID> {
    /// Open a container with `b`; whether it is laid out.
    #[inline]
    fn open(&mut self, b: u8) -> bool {
        self.out.push(b);
        if !LAID {
            return false;
        }
        let pretty = self.depth < self.pretty_levels;
        self.depth += 1;
        pretty
    }

    /// Before a member of a container: the comma, and in a laid-out one the new line.
    #[inline]
    fn member(&mut self, first: bool, pretty: bool) -> Result<(), Error> {
        if !first {
            self.out.push(b',');
        }
        if LAID && pretty {
            if self.out.len() >= CHUNK {
                if let Some(sink) = self.sink.as_mut() {
                    sink.write_all(self.out)?;
                    self.out.clear();
                }
            }
            self.newline();
        }
        Ok(())
    }

    fn newline(&mut self) {
        self.out.push(b'\n');
        for _ in 0..self.depth {
            self.out.extend_from_slice(b"  ");
        }
    }

    /// Between a key and its value.
    #[inline]
    fn colon(&mut self, pretty: bool) {
        if LAID && pretty {
            self.out.extend_from_slice(b": ");
        } else {
            self.out.push(b':');
        }
    }

    /// Close a container with `b` (`had`: it has a member).
    #[inline]
    fn close(&mut self, b: u8, pretty: bool, had: bool) {
        if LAID {
            self.depth -= 1;
            if pretty && had {
                self.newline();
            }
        }
        self.out.push(b);
    }

    /// `{"variant":` of an enum variant with content, opened.
    fn variant(&mut self, variant: &str) -> Result<bool, Error> {
        let pretty = self.open(b'{');
        self.member(true, pretty)?;
        write_str(self.out, variant);
        self.colon(pretty);
        Ok(pretty)
    }

    /// A list or object opened with `b`.
    fn compound<'w>(&'w mut self, b: u8, variant: Option<bool>) -> Compound<'w, 'a, LAID> {
        let pretty = self.open(b);
        Compound {
            w: self,
            first: true,
            pretty,
            variant,
        }
    }
}

/// A list or object being written: whether the next element is its first, whether it is
/// laid out, and for an enum variant's content whether the `{"variant":` around it is.
pub struct Compound<'w, 'a, const LAID: bool> {
    w: &'w mut Writer<'a, LAID>,
    first: bool,
    pretty: bool,
    variant: Option<bool>,
}

impl<const LAID: bool> Compound<'_, '_, LAID> {
    #[inline]
    fn comma(&mut self) -> Result<(), Error> {
        let first = std::mem::take(&mut self.first);
        self.w.member(first, self.pretty)
    }
    #[inline]
    fn key(&mut self, k: &str) -> Result<(), Error> {
        self.comma()?;
        write_str(self.w.out, k);
        self.w.colon(self.pretty);
        Ok(())
    }
    /// Close with `b` (and the variant around it).
    #[inline]
    fn close(self, b: u8) -> Result<(), Error> {
        self.w.close(b, self.pretty, !self.first);
        if let Some(pretty) = self.variant {
            self.w.close(b'}', pretty, true);
        }
        Ok(())
    }
}

impl<'w, 'a, const LAID: bool> ser::Serializer for &'w mut Writer<'a, LAID> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'w, 'a, LAID>;
    type SerializeTuple = Compound<'w, 'a, LAID>;
    type SerializeTupleStruct = Compound<'w, 'a, LAID>;
    type SerializeTupleVariant = Compound<'w, 'a, LAID>;
    type SerializeMap = Compound<'w, 'a, LAID>;
    type SerializeStruct = Compound<'w, 'a, LAID>;
    type SerializeStructVariant = Compound<'w, 'a, LAID>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        write_i64(self.out, v.into());
        Ok(())
    }
    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        write_i64(self.out, v.into());
        Ok(())
    }
    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        write_i64(self.out, v.into());
        Ok(())
    }
    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        write_i64(self.out, v);
        Ok(())
    }
    fn serialize_i128(self, v: i128) -> Result<(), Error> {
        via_serde_json(self.out, &v)
    }
    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        write_u64(self.out, v.into());
        Ok(())
    }
    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        write_u64(self.out, v.into());
        Ok(())
    }
    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        write_u64(self.out, v.into());
        Ok(())
    }
    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        write_u64(self.out, v);
        Ok(())
    }
    fn serialize_u128(self, v: u128) -> Result<(), Error> {
        via_serde_json(self.out, &v)
    }
    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        via_serde_json(self.out, &v)
    }
    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        via_serde_json(self.out, &v)
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        write_str(self.out, v.encode_utf8(&mut [0; 4]));
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result<(), Error> {
        write_str(self.out, v);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        // A list of numbers, as serde_json writes it.
        use ser::SerializeSeq;
        let mut seq = self.compound(b'[', None);
        for b in v {
            seq.serialize_element(b)?;
        }
        seq.end()
    }
    fn serialize_none(self) -> Result<(), Error> {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<(), Error> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Error> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        write_str(self.out, variant);
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        let pretty = self.variant(variant)?;
        v.serialize(&mut *self)?;
        self.close(b'}', pretty, true);
        Ok(())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Compound<'w, 'a, LAID>, Error> {
        Ok(self.compound(b'[', None))
    }
    fn serialize_tuple(self, len: usize) -> Result<Compound<'w, 'a, LAID>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<Compound<'w, 'a, LAID>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'w, 'a, LAID>, Error> {
        let pretty = self.variant(variant)?;
        Ok(self.compound(b'[', Some(pretty)))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Compound<'w, 'a, LAID>, Error> {
        Ok(self.compound(b'{', None))
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<Compound<'w, 'a, LAID>, Error> {
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'w, 'a, LAID>, Error> {
        let pretty = self.variant(variant)?;
        Ok(self.compound(b'{', Some(pretty)))
    }
}

impl<const LAID: bool> ser::SerializeSeq for Compound<'_, '_, LAID> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        self.comma()?;
        v.serialize(&mut *self.w)
    }
    fn end(self) -> Result<(), Error> {
        self.close(b']')
    }
}

impl<const LAID: bool> ser::SerializeTuple for Compound<'_, '_, LAID> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> Result<(), Error> {
        ser::SerializeSeq::end(self)
    }
}

impl<const LAID: bool> ser::SerializeTupleStruct for Compound<'_, '_, LAID> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> Result<(), Error> {
        ser::SerializeSeq::end(self)
    }
}

impl<const LAID: bool> ser::SerializeTupleVariant for Compound<'_, '_, LAID> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> Result<(), Error> {
        self.close(b']')
    }
}

impl<const LAID: bool> ser::SerializeMap for Compound<'_, '_, LAID> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> Result<(), Error> {
        self.comma()?;
        k.serialize(MapKey { out: self.w.out })?;
        self.w.colon(self.pretty);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        v.serialize(&mut *self.w)
    }
    fn end(self) -> Result<(), Error> {
        self.close(b'}')
    }
}

impl<const LAID: bool> ser::SerializeStruct for Compound<'_, '_, LAID> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        self.key(key)?;
        v.serialize(&mut *self.w)
    }
    fn end(self) -> Result<(), Error> {
        self.close(b'}')
    }
}

impl<const LAID: bool> ser::SerializeStructVariant for Compound<'_, '_, LAID> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        self.key(key)?;
        v.serialize(&mut *self.w)
    }
    fn end(self) -> Result<(), Error> {
        self.close(b'}')
    }
}

/// An object key: a string as it is, a number or a bool in quotes (as serde_json does);
/// anything else, serde_json's way (which refuses what JSON cannot have as a key).
struct MapKey<'a> {
    out: &'a mut Vec<u8>,
}

impl MapKey<'_> {
    fn quoted(self, f: impl FnOnce(&mut Vec<u8>)) -> Result<(), Error> {
        self.out.push(b'"');
        f(self.out);
        self.out.push(b'"');
        Ok(())
    }
    /// serde_json's key for a value this writer does not spell itself.
    fn via_serde_json<T: Serialize>(self, v: &T) -> Result<(), Error> {
        struct Key<'t, T>(&'t T);
        impl<T: Serialize> Serialize for Key<'_, T> {
            fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use ser::SerializeMap;
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry(self.0, &())?;
                m.end()
            }
        }
        let mut tmp = Vec::new();
        serde_json::to_writer(&mut tmp, &Key(v)).map_err(|e| Error::msg(e.to_string()))?;
        // `{KEY:null}` → `KEY`
        let inner = tmp
            .get(1..tmp.len().saturating_sub(6))
            .ok_or_else(|| Error::msg("key"))?;
        self.out.extend_from_slice(inner);
        Ok(())
    }
}

macro_rules! key_via_serde_json {
    ($($f:ident: $t:ty),*) => {
        $(fn $f(self, v: $t) -> Result<(), Error> {
            self.via_serde_json(&v)
        })*
    };
}

impl ser::Serializer for MapKey<'_> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = ser::Impossible<(), Error>;
    type SerializeTuple = ser::Impossible<(), Error>;
    type SerializeTupleStruct = ser::Impossible<(), Error>;
    type SerializeTupleVariant = ser::Impossible<(), Error>;
    type SerializeMap = ser::Impossible<(), Error>;
    type SerializeStruct = ser::Impossible<(), Error>;
    type SerializeStructVariant = ser::Impossible<(), Error>;

    fn serialize_str(self, v: &str) -> Result<(), Error> {
        write_str(self.out, v);
        Ok(())
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        write_str(self.out, variant);
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        v.serialize(self)
    }
    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        self.quoted(|o| write_u64(o, v))
    }
    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        self.quoted(|o| write_u64(o, v.into()))
    }
    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        self.quoted(|o| write_u64(o, v.into()))
    }
    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        self.quoted(|o| write_u64(o, v.into()))
    }
    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        self.quoted(|o| write_i64(o, v))
    }
    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        self.quoted(|o| write_i64(o, v.into()))
    }
    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        self.quoted(|o| write_i64(o, v.into()))
    }
    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        self.quoted(|o| write_i64(o, v.into()))
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        write_str(self.out, v.encode_utf8(&mut [0; 4]));
        Ok(())
    }
    key_via_serde_json!(
        serialize_bool: bool,
        serialize_i128: i128,
        serialize_u128: u128,
        serialize_f32: f32,
        serialize_f64: f64
    );
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        self.via_serde_json(&v)
    }
    fn serialize_none(self) -> Result<(), Error> {
        self.via_serde_json(&())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<(), Error> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Error> {
        self.via_serde_json(&())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.via_serde_json(&())
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _v: &T,
    ) -> Result<(), Error> {
        Err(Error::msg("key must be a string"))
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        Err(Error::msg("key must be a string"))
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, Error> {
        Err(Error::msg("key must be a string"))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, Error> {
        Err(Error::msg("key must be a string"))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(Error::msg("key must be a string"))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Err(Error::msg("key must be a string"))
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, Error> {
        Err(Error::msg("key must be a string"))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(Error::msg("key must be a string"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata::{documented_report, example_report};
    use std::collections::BTreeMap;
    use std::io::Write;

    /// `v` compact and laid out as serde_json writes it (the layout at every depth).
    fn same<T: Serialize + ?Sized>(v: &T) {
        let mut ours = Vec::new();
        let theirs = serde_json::to_vec(v).map_err(|e| e.to_string());
        match to_vec(&mut ours, v) {
            Ok(()) => assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&theirs.expect("serde_json too"))
            ),
            Err(_) => assert!(theirs.is_err()),
        }
        for levels in 0..4 {
            let mut ours = Vec::new();
            let mut theirs = Vec::new();
            let mut ser = serde_json::Serializer::with_formatter(
                &mut theirs,
                RecordLines {
                    levels,
                    ..Default::default()
                },
            );
            let theirs = v.serialize(&mut ser).map(|_| theirs);
            match to_writer_laid_out(&mut ours, v, levels as u32) {
                Ok(()) => assert_eq!(
                    String::from_utf8_lossy(&ours),
                    String::from_utf8_lossy(&theirs.expect("serde_json too")),
                    "{levels} levels"
                ),
                Err(_) => assert!(theirs.is_err()),
            }
        }
    }

    /// serde_json with the document's layout (what `--format json` was written with before
    /// this writer): the oracle for [`to_writer_laid_out`].
    #[derive(Default)]
    struct RecordLines {
        /// Levels of containers laid out.
        levels: usize,
        /// For each open container, whether it is pretty-printed.
        open: Vec<bool>,
        /// The innermost container written so far has a member.
        has_value: bool,
    }

    impl RecordLines {
        fn begin<W: ?Sized + Write>(&mut self, w: &mut W, open: &[u8]) -> io::Result<()> {
            self.open.push(self.open.len() < self.levels);
            self.has_value = false;
            w.write_all(open)
        }

        fn end<W: ?Sized + Write>(&mut self, w: &mut W, close: &[u8]) -> io::Result<()> {
            let pretty = self.open.pop().unwrap_or(false);
            if pretty && self.has_value {
                w.write_all(b"\n")?;
                indent(w, self.open.len())?;
            }
            w.write_all(close)
        }

        fn member<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
            if !first {
                w.write_all(b",")?;
            }
            if self.open.last().copied().unwrap_or(false) {
                w.write_all(b"\n")?;
                indent(w, self.open.len())?;
            }
            Ok(())
        }
    }

    fn indent<W: ?Sized + Write>(w: &mut W, levels: usize) -> io::Result<()> {
        for _ in 0..levels {
            w.write_all(b"  ")?;
        }
        Ok(())
    }

    impl serde_json::ser::Formatter for RecordLines {
        fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
            self.begin(w, b"[")
        }

        fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
            self.end(w, b"]")
        }

        fn begin_array_value<W: ?Sized + Write>(
            &mut self,
            w: &mut W,
            first: bool,
        ) -> io::Result<()> {
            self.member(w, first)
        }

        fn end_array_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
            self.has_value = true;
            Ok(())
        }

        fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
            self.begin(w, b"{")
        }

        fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
            self.end(w, b"}")
        }

        fn begin_object_key<W: ?Sized + Write>(
            &mut self,
            w: &mut W,
            first: bool,
        ) -> io::Result<()> {
            self.member(w, first)
        }

        fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
            if self.open.last().copied().unwrap_or(false) {
                w.write_all(b": ")
            } else {
                w.write_all(b":")
            }
        }

        fn end_object_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
            self.has_value = true;
            Ok(())
        }
    }

    #[test]
    fn a_failing_sink_fails_the_document_with_its_own_error() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        // Mid-document (past a chunk) and at its end: a closed pipe stays a closed pipe.
        let big: Vec<String> = (0..20_000).map(|i| format!("member {i}")).collect();
        for v in [big, vec![]] {
            let e = to_writer_laid_out(&mut Closed, &v, 2).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
        }
    }

    #[test]
    fn sessions_as_serde_json_writes_them() {
        for r in [documented_report(), example_report()] {
            for s in &r.sessions {
                same(s);
            }
            same(&r);
        }
    }

    #[test]
    fn every_byte_escaped_as_serde_json_escapes_it() {
        let all: String = (0u32..0x100).filter_map(char::from_u32).collect();
        same(&all);
        for c in (0u32..0x100).filter_map(char::from_u32) {
            same(&format!("a{c}b"));
            same(&c);
        }
        same("");
        same("\u{2028}\u{fffd}\"\\");
        // Every length around the word and block sizes, with one byte that needs an
        // escape (or a high one) at every place.
        for n in 0..40 {
            same(&"x".repeat(n));
            for at in 0..n {
                for c in [
                    '"', '\\', '\n', '\u{1f}', '\u{0}', ' ', '\u{7f}', 'é', '!', '#', '[', ']',
                ] {
                    let mut s: Vec<char> = vec!['y'; n];
                    s[at] = c;
                    same(&s.into_iter().collect::<String>());
                }
            }
        }
    }

    #[test]
    fn shapes_as_serde_json_writes_them() {
        #[derive(Serialize)]
        enum E {
            Unit,
            New(u8),
            Tuple(u8, i64),
            Struct { a: Option<u8>, b: () },
        }
        #[derive(Serialize)]
        struct Unit;
        #[derive(Serialize)]
        struct New(i32);
        same(&vec![
            E::Unit,
            E::New(7),
            E::Tuple(1, -2),
            E::Struct { a: None, b: () },
        ]);
        same(&(
            Unit,
            New(-5),
            1.5f64,
            f64::NAN,
            0.1f32,
            u128::MAX,
            i128::MIN,
            'x',
        ));
        same(&[u64::MAX, 0, 10]);
        same(&[i64::MIN, -1, 0, i64::MAX]);
        let mut m = BTreeMap::new();
        m.insert(3u16, "x");
        m.insert(10u16, "y\n");
        same(&m);
        let mut m = BTreeMap::new();
        m.insert(-3i8, ());
        same(&m);
        let mut m = BTreeMap::new();
        m.insert(true, 1);
        same(&m);
        let mut m = BTreeMap::new();
        m.insert((1, 2), 1);
        same(&m);
        let mut m = BTreeMap::new();
        m.insert("k\"ey".to_string(), Some(vec![Some(1)]));
        same(&m);
        same(&serde_bytes_like());
        let empty: Vec<u8> = Vec::new();
        same(&empty);
    }

    /// A byte string through `serialize_bytes`.
    fn serde_bytes_like() -> impl Serialize {
        struct B;
        impl Serialize for B {
            fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(b"\x00ab")
            }
        }
        B
    }
}
