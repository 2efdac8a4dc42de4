//! Element data types and their names in each format.

use crate::error::{Error, Result};

/// Byte order of stored elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endian {
    Little,
    Big,
}

impl Endian {
    pub const NATIVE: Endian = if cfg!(target_endian = "big") {
        Endian::Big
    } else {
        Endian::Little
    };
}

/// numpy's datetime64 / timedelta64 units, in numpy's spelling.
pub const TIME_UNITS: [&str; 13] = [
    "Y", "M", "W", "D", "h", "m", "s", "ms", "us", "ns", "ps", "fs", "as",
];

/// A datetime64 / timedelta64 unit: `scale` counts of `TIME_UNITS[unit]` (numpy's
/// `M8[10s]` is unit "s", scale 10).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeUnit {
    pub unit: u8,
    pub scale: u32,
}

impl TimeUnit {
    pub fn name(self) -> &'static str {
        TIME_UNITS[self.unit as usize]
    }

    pub fn new(name: &str, scale: u32) -> Option<TimeUnit> {
        let unit = TIME_UNITS.iter().position(|u| *u == name)? as u8;
        (scale >= 1).then_some(TimeUnit { unit, scale })
    }

    /// numpy's bracket spelling: `ns`, `10s`.
    fn bracket(self) -> String {
        if self.scale == 1 {
            self.name().to_string()
        } else {
            format!("{}{}", self.scale, self.name())
        }
    }

    fn parse_bracket(s: &str) -> Option<TimeUnit> {
        let digits = s.chars().take_while(|c| c.is_ascii_digit()).count();
        let scale = if digits == 0 {
            1
        } else {
            s[..digits].parse().ok()?
        };
        TimeUnit::new(&s[digits..], scale)
    }
}

/// How a Zarr object array (numpy dtype `O`) stores its variable-length elements:
/// numcodecs' object codecs, which Zarr v3 names after its `string` and
/// `variable_length_bytes` data types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ObjectCodec {
    /// `vlen-utf8`: `str` items, UTF-8.
    VlenUtf8,
    /// `vlen-bytes`: `bytes` items.
    VlenBytes,
    /// `json2`: any JSON value per item (zarr-python 2 only).
    Json2,
}

impl ObjectCodec {
    /// The numcodecs id (Zarr v2 filter id, Zarr v3 codec name).
    pub fn id(self) -> &'static str {
        match self {
            ObjectCodec::VlenUtf8 => "vlen-utf8",
            ObjectCodec::VlenBytes => "vlen-bytes",
            ObjectCodec::Json2 => "json2",
        }
    }

    pub fn from_id(id: &str) -> Option<ObjectCodec> {
        [
            ObjectCodec::VlenUtf8,
            ObjectCodec::VlenBytes,
            ObjectCodec::Json2,
        ]
        .into_iter()
        .find(|c| c.id() == id)
    }
}

/// The element types the library handles: numbers, and the fixed-size types numpy and
/// Zarr share (fixed-length byte and UTF-32 strings, opaque records, datetimes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataType {
    Bool,
    UInt8,
    UInt16,
    UInt32,
    UInt64,
    Int8,
    Int16,
    Int32,
    Int64,
    Float16,
    Float32,
    Float64,
    Complex64,
    Complex128,
    /// numpy `S<n>`: `n` bytes, NUL-padded.
    FixedBytes(u32),
    /// numpy `U<n>`: `n` UTF-32 code points (4 bytes each).
    FixedUtf32(u32),
    /// numpy `V<n>`: `n` opaque bytes (also structured records, whose fields the Python
    /// layer reads from the metadata; each field keeps its stored byte order).
    Opaque(u32),
    /// numpy `M8[unit]`: a signed 64-bit count of units since the epoch.
    DateTime(TimeUnit),
    /// numpy `m8[unit]`: a signed 64-bit count of units.
    TimeDelta(TimeUnit),
    /// numpy `O`: variable-length items (Zarr v2 object arrays, Zarr v3 `string` and
    /// `variable_length_bytes`), in chunks framed by the object codec. These never travel
    /// through the fixed-size region paths; see `crate::objects`.
    Object(ObjectCodec),
}

use DataType::*;

const ALL: [DataType; 14] = [
    Bool, UInt8, UInt16, UInt32, UInt64, Int8, Int16, Int32, Int64, Float16, Float32, Float64,
    Complex64, Complex128,
];

impl DataType {
    /// Size of one element in bytes.
    pub fn size(self) -> usize {
        match self {
            Bool | UInt8 | Int8 => 1,
            UInt16 | Int16 | Float16 => 2,
            UInt32 | Int32 | Float32 => 4,
            UInt64 | Int64 | Float64 | Complex64 | DateTime(_) | TimeDelta(_) => 8,
            // a numpy object array's element: one pointer
            Object(_) => 8,
            Complex128 => 16,
            FixedBytes(n) | Opaque(n) => n as usize,
            FixedUtf32(n) => 4 * n as usize,
        }
    }

    /// Size of the scalar that byte order applies to (complex swaps each half).
    pub fn swap_unit(self) -> usize {
        match self {
            Complex64 | FixedUtf32(_) => 4,
            Complex128 => 8,
            FixedBytes(_) | Opaque(_) | Object(_) => 1,
            other => other.size(),
        }
    }

    /// The name used by N5 `dataType` and Zarr v3 `data_type` (for the types spelled by a
    /// bare name; the others return a descriptive name, see `zarr_v3`).
    pub fn name(self) -> &'static str {
        match self {
            Bool => "bool",
            UInt8 => "uint8",
            UInt16 => "uint16",
            UInt32 => "uint32",
            UInt64 => "uint64",
            Int8 => "int8",
            Int16 => "int16",
            Int32 => "int32",
            Int64 => "int64",
            Float16 => "float16",
            Float32 => "float32",
            Float64 => "float64",
            Complex64 => "complex64",
            Complex128 => "complex128",
            FixedBytes(_) => "bytes",
            FixedUtf32(_) => "str",
            Opaque(_) => "void",
            DateTime(_) => "datetime64",
            TimeDelta(_) => "timedelta64",
            Object(ObjectCodec::VlenUtf8) => "string",
            Object(ObjectCodec::VlenBytes) => "variable_length_bytes",
            Object(ObjectCodec::Json2) => "object",
        }
    }

    pub fn from_name(name: &str) -> Option<DataType> {
        ALL.into_iter().find(|d| d.name() == name)
    }

    /// Whether N5 can store this type.
    pub fn in_n5(self) -> bool {
        matches!(
            self,
            UInt8 | UInt16 | UInt32 | UInt64 | Int8 | Int16 | Int32 | Int64 | Float32 | Float64
        )
    }

    /// Whether this is one of the numeric (and bool) types.
    pub fn is_numeric(self) -> bool {
        ALL.contains(&self)
    }

    /// Whether elements are variable-length objects.
    pub fn is_object(self) -> bool {
        matches!(self, Object(_))
    }

    pub fn is_float(self) -> bool {
        matches!(self, Float16 | Float32 | Float64 | Complex64 | Complex128)
    }

    fn kind_char(self) -> char {
        match self {
            Bool => 'b',
            UInt8 | UInt16 | UInt32 | UInt64 => 'u',
            Int8 | Int16 | Int32 | Int64 => 'i',
            Float16 | Float32 | Float64 => 'f',
            Complex64 | Complex128 => 'c',
            FixedBytes(_) => 'S',
            FixedUtf32(_) => 'U',
            Opaque(_) => 'V',
            DateTime(_) => 'M',
            TimeDelta(_) => 'm',
            Object(_) => 'O',
        }
    }

    /// The numpy kind character (`u`, `f`, `S`, `U`, `M`...).
    pub fn kind(self) -> char {
        self.kind_char()
    }

    /// numpy type string (`"<u2"`, `"|u1"`, `">f8"`), as Zarr v2 stores it.
    pub fn typestr(self, endian: Endian) -> String {
        let order = if self.swap_unit() == 1 {
            '|'
        } else if endian == Endian::Big {
            '>'
        } else {
            '<'
        };
        match self {
            FixedUtf32(n) => format!("{order}U{n}"),
            DateTime(u) => format!("{order}M8[{}]", u.bracket()),
            TimeDelta(u) => format!("{order}m8[{}]", u.bracket()),
            Object(_) => "|O".to_string(),
            _ => format!("{order}{}{}", self.kind_char(), self.size()),
        }
    }

    /// Parse a numpy type string; returns the type and its byte order.
    pub fn from_typestr(s: &str) -> Result<(DataType, Endian)> {
        let bad = || Error::unsupported(format!("data type {s:?}"));
        let mut chars = s.chars();
        let order = chars.next().ok_or_else(bad)?;
        let endian = match order {
            '<' | '|' => Endian::Little,
            '>' => Endian::Big,
            '=' => Endian::NATIVE,
            _ => return Err(bad()),
        };
        let kind = chars.next().ok_or_else(bad)?;
        let rest = chars.as_str();
        if kind == 'M' || kind == 'm' {
            let unit = rest
                .strip_prefix("8[")
                .and_then(|r| r.strip_suffix(']'))
                .and_then(TimeUnit::parse_bracket)
                .ok_or_else(bad)?;
            let dtype = if kind == 'M' {
                DateTime(unit)
            } else {
                TimeDelta(unit)
            };
            return Ok((dtype, endian));
        }
        let size: usize = rest.parse().map_err(|_| bad())?;
        if matches!(kind, 'S' | 'U' | 'V') {
            let n = u32::try_from(size)
                .ok()
                .filter(|&n| (1..=1 << 28).contains(&n));
            let n = n.ok_or_else(bad)?;
            return Ok((
                match kind {
                    'S' => FixedBytes(n),
                    'U' => FixedUtf32(n),
                    _ => Opaque(n),
                },
                endian,
            ));
        }
        let dtype = ALL
            .into_iter()
            .find(|d| d.kind_char() == kind && d.size() == size)
            .ok_or_else(bad)?;
        Ok((dtype, endian))
    }
}

/// Reverse the byte order of every scalar in `buf` (in place).
/// Copy `src` to `dst` (of the same length), reversing the bytes of every `unit`-byte
/// element (units other than 2, 4 and 8 are copied as they are).
pub fn swap_bytes_into(src: &[u8], dst: &mut [u8], unit: usize) {
    match unit {
        2 => {
            for (s, d) in src.chunks_exact(2).zip(dst.chunks_exact_mut(2)) {
                let v = u16::from_ne_bytes([s[0], s[1]]).swap_bytes();
                d.copy_from_slice(&v.to_ne_bytes());
            }
        }
        4 => {
            for (s, d) in src.chunks_exact(4).zip(dst.chunks_exact_mut(4)) {
                let v = u32::from_ne_bytes([s[0], s[1], s[2], s[3]]).swap_bytes();
                d.copy_from_slice(&v.to_ne_bytes());
            }
        }
        8 => {
            for (s, d) in src.chunks_exact(8).zip(dst.chunks_exact_mut(8)) {
                let v = u64::from_ne_bytes(s.try_into().unwrap()).swap_bytes();
                d.copy_from_slice(&v.to_ne_bytes());
            }
        }
        _ => dst.copy_from_slice(src),
    }
}

pub fn swap_bytes(buf: &mut [u8], unit: usize) {
    match unit {
        2 => buf.chunks_exact_mut(2).for_each(|c| c.swap(0, 1)),
        4 => buf.chunks_exact_mut(4).for_each(|c| {
            let v = u32::from_ne_bytes([c[0], c[1], c[2], c[3]]).swap_bytes();
            c.copy_from_slice(&v.to_ne_bytes());
        }),
        8 => buf.chunks_exact_mut(8).for_each(|c| {
            let v = u64::from_ne_bytes(c.try_into().unwrap()).swap_bytes();
            c.copy_from_slice(&v.to_ne_bytes());
        }),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typestr_round_trip() {
        for d in ALL {
            for e in [Endian::Little, Endian::Big] {
                let s = d.typestr(e);
                let (d2, e2) = DataType::from_typestr(&s).unwrap();
                assert_eq!(d, d2);
                if d.size() > 1 {
                    assert_eq!(e, e2);
                }
            }
        }
        assert!(DataType::from_typestr("").is_err());
        for s in [
            "|S7", "<U4", ">U13", "|V5", "<M8[ns]", ">m8[10s]", "<M8[D]", "<m8[as]",
        ] {
            let (d, e) = DataType::from_typestr(s).unwrap();
            assert_eq!(d.typestr(e), s);
        }
        assert_eq!(DataType::from_typestr(">U13").unwrap().0.size(), 52);
        assert_eq!(DataType::from_typestr("<U13").unwrap().0.swap_unit(), 4);
        for s in ["<M8[xs]", "<M8", "<m8[0s]", "|S0", "<U", "|S-1"] {
            assert!(DataType::from_typestr(s).is_err(), "{s}");
        }
    }

    #[test]
    fn swap_into_matches_swap_in_place() {
        let src: Vec<u8> = (0..48u8).collect();
        for unit in [1, 2, 4, 8, 3] {
            let mut want = src.clone();
            swap_bytes(&mut want, unit);
            let mut got = vec![0; src.len()];
            swap_bytes_into(&src, &mut got, unit);
            assert_eq!(got, want, "unit {unit}");
        }
        let mut got = vec![0; 4];
        swap_bytes_into(&[1, 2, 3, 4], &mut got, 2);
        assert_eq!(got, [2, 1, 4, 3]);
    }

    #[test]
    fn swap() {
        let mut b = vec![1, 2, 3, 4, 5, 6, 7, 8];
        swap_bytes(&mut b, 4);
        assert_eq!(b, [4, 3, 2, 1, 8, 7, 6, 5]);
        swap_bytes(&mut b, 8);
        assert_eq!(b, [5, 6, 7, 8, 1, 2, 3, 4]);
    }
}
