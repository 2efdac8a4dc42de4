//! Element values of the numeric types, read from and written to bytes of a given byte
//! order with numpy's casting rules (integers wrap, floats truncate toward zero into
//! integers). The numcodecs filters that change or compute with element types share it.

use crate::dtype::{DataType, Endian};
use crate::error::{Error, Result};
use crate::metadata::fill::{f16_to_f32, f32_to_f16};

/// A numeric dtype with its byte order, as numcodecs filters name it (`"<u8"`, `"|u1"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Typed {
    pub dtype: DataType,
    pub endian: Endian,
}

/// One element's value: integers exactly, floats as f64.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Num {
    Int(i128),
    Float(f64),
}

impl Num {
    pub fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }
}

impl Typed {
    /// Parse a numpy type string naming a numeric (or bool) type.
    pub fn parse(typestr: &str) -> Result<Typed> {
        let (dtype, endian) = DataType::from_typestr(typestr)?;
        if !dtype.is_numeric() || matches!(dtype, DataType::Complex64 | DataType::Complex128) {
            return Err(Error::unsupported(format!(
                "filter data type {typestr:?} (numbers only)"
            )));
        }
        Ok(Typed { dtype, endian })
    }

    pub fn size(self) -> usize {
        self.dtype.size()
    }

    pub fn typestr(self) -> String {
        self.dtype.typestr(self.endian)
    }

    pub fn is_float(self) -> bool {
        self.dtype.is_float()
    }

    fn raw(self, b: &[u8]) -> u64 {
        let mut v = [0u8; 8];
        let n = self.size();
        match self.endian {
            Endian::Little => {
                v[..n].copy_from_slice(&b[..n]);
                u64::from_le_bytes(v)
            }
            Endian::Big => {
                v[8 - n..].copy_from_slice(&b[..n]);
                u64::from_be_bytes(v)
            }
        }
    }

    fn put_raw(self, bits: u64, out: &mut [u8]) {
        let n = self.size();
        match self.endian {
            Endian::Little => out[..n].copy_from_slice(&bits.to_le_bytes()[..n]),
            Endian::Big => out[..n].copy_from_slice(&bits.to_be_bytes()[8 - n..]),
        }
    }

    /// The value of the element starting at `b`.
    pub fn get(self, b: &[u8]) -> Num {
        use DataType::*;
        let r = self.raw(b);
        match self.dtype {
            Bool => Num::Int((r != 0) as i128),
            UInt8 | UInt16 | UInt32 | UInt64 => Num::Int(r as i128),
            Int8 => Num::Int(r as u8 as i8 as i128),
            Int16 => Num::Int(r as u16 as i16 as i128),
            Int32 => Num::Int(r as u32 as i32 as i128),
            Int64 => Num::Int(r as i64 as i128),
            Float16 => Num::Float(f16_to_f32(r as u16) as f64),
            Float32 => Num::Float(f32::from_bits(r as u32) as f64),
            Float64 => Num::Float(f64::from_bits(r)),
            _ => Num::Int(0),
        }
    }

    /// Store `v` cast to this type (numpy `astype` semantics) at `out`.
    pub fn put(self, v: Num, out: &mut [u8]) {
        use DataType::*;
        let bits = match self.dtype {
            Bool => match v {
                Num::Int(i) => (i != 0) as u64,
                Num::Float(f) => (f != 0.0) as u64,
            },
            Float16 => f32_to_f16(v.as_f64() as f32) as u64,
            Float32 => (v.as_f64() as f32).to_bits() as u64,
            Float64 => v.as_f64().to_bits(),
            _ => match v {
                Num::Int(i) => i as u64,
                // C casts truncate toward zero; beyond the range numpy's result is undefined.
                Num::Float(f) => (f as i64) as u64,
            },
        };
        self.put_raw(bits, out)
    }

    /// The element's bits as an unsigned integer (for bit-level filters).
    pub fn bits(self, b: &[u8]) -> u64 {
        self.raw(b)
    }

    pub fn put_bits(self, bits: u64, out: &mut [u8]) {
        self.put_raw(bits, out)
    }

    /// Round to this type's precision (float32 arithmetic stays in float32, as in numpy).
    pub fn round_to(self, x: f64) -> f64 {
        match self.dtype {
            DataType::Float32 => x as f32 as f64,
            DataType::Float16 => f16_to_f32(f32_to_f16(x as f32)) as f64,
            _ => x,
        }
    }
}

/// Number of whole elements of `t` in `len` bytes, or an error naming the filter.
pub fn count(filter: &'static str, len: usize, t: Typed) -> Result<usize> {
    if len % t.size() != 0 {
        return Err(Error::codec(
            filter,
            format!(
                "{len} bytes are not a whole number of {} elements",
                t.typestr()
            ),
        ));
    }
    Ok(len / t.size())
}

/// numpy's `around`: round half to even.
pub fn round_half_even(x: f64) -> f64 {
    x.round_ties_even()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn casts_like_numpy() {
        let u8t = Typed::parse("|u1").unwrap();
        let mut b = [0u8; 8];
        u8t.put(Num::Int(300), &mut b);
        assert_eq!(b[0], 44);
        u8t.put(Num::Float(7.9), &mut b);
        assert_eq!(b[0], 7);
        let be = Typed::parse(">i2").unwrap();
        be.put(Num::Int(-2), &mut b);
        assert_eq!(&b[..2], &[0xff, 0xfe]);
        assert_eq!(be.get(&b), Num::Int(-2));
        assert_eq!(round_half_even(2.5), 2.0);
        assert_eq!(round_half_even(3.5), 4.0);
        assert_eq!(round_half_even(-2.5), -2.0);
        assert_eq!(round_half_even(1.2), 1.0);
        assert!(Typed::parse("<U3").is_err());
    }
}
