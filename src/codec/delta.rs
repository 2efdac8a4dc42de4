//! numcodecs `delta`: the first element, then differences of consecutive elements (computed
//! in `dtype`, stored as `astype`); decoding is the cumulative sum.

use super::numeric::{count, Num, Typed};
use crate::dtype::Endian;
use crate::error::Result;

#[derive(Clone, Debug, PartialEq)]
pub struct Delta {
    pub dtype: Typed,
    pub astype: Typed,
}

fn mask(size: usize) -> u64 {
    if size == 8 {
        u64::MAX
    } else {
        (1u64 << (8 * size)) - 1
    }
}

/// Wrap an integer to the width and signedness of `t` (what storing it there does).
fn wrap(t: Typed, v: Num) -> Num {
    let mut b = [0u8; 8];
    t.put(v, &mut b);
    t.get(&b)
}

impl Delta {
    /// The same integer type on both sides: two's-complement differences on the bits.
    fn same_int(&self) -> bool {
        self.dtype == self.astype && !self.dtype.is_float()
    }

    pub fn encode(&self, input: &[u8]) -> Result<Vec<u8>> {
        let n = count("delta", input.len(), self.dtype)?;
        let (es, os) = (self.dtype.size(), self.astype.size());
        let mut out = vec![0u8; n * os];
        if self.same_int() && es == 8 && self.dtype.endian == Endian::Little {
            let mut prev = 0u64;
            for (s, d) in input.chunks_exact(8).zip(out.chunks_exact_mut(8)) {
                let v = u64::from_le_bytes(s.try_into().unwrap());
                d.copy_from_slice(&v.wrapping_sub(prev).to_le_bytes());
                prev = v;
            }
        } else if self.same_int() {
            let (t, m) = (self.dtype, mask(es));
            let mut prev = 0u64;
            for (s, d) in input.chunks_exact(es).zip(out.chunks_exact_mut(os)) {
                let v = t.bits(s);
                t.put_bits(v.wrapping_sub(prev) & m, d);
                prev = v;
            }
        } else {
            let t = self.dtype;
            let mut prev: Option<Num> = None;
            for (s, d) in input.chunks_exact(es).zip(out.chunks_exact_mut(os)) {
                let v = t.get(s);
                let diff = match (prev, v) {
                    (None, v) => v,
                    (Some(Num::Int(p)), Num::Int(x)) => wrap(t, Num::Int(x - p)),
                    (Some(p), v) => Num::Float(t.round_to(v.as_f64() - p.as_f64())),
                };
                self.astype.put(diff, d);
                prev = Some(v);
            }
        }
        Ok(out)
    }

    pub fn decode(&self, input: &[u8]) -> Result<Vec<u8>> {
        let n = count("delta", input.len(), self.astype)?;
        let (es, os) = (self.dtype.size(), self.astype.size());
        let mut out = vec![0u8; n * es];
        if self.same_int() && es == 8 && self.dtype.endian == Endian::Little {
            let mut acc = 0u64;
            for (s, d) in input.chunks_exact(8).zip(out.chunks_exact_mut(8)) {
                acc = acc.wrapping_add(u64::from_le_bytes(s.try_into().unwrap()));
                d.copy_from_slice(&acc.to_le_bytes());
            }
        } else if self.same_int() {
            let (t, m) = (self.dtype, mask(es));
            let mut acc = 0u64;
            for (s, d) in input.chunks_exact(os).zip(out.chunks_exact_mut(es)) {
                acc = acc.wrapping_add(t.bits(s)) & m;
                t.put_bits(acc, d);
            }
        } else {
            let t = self.dtype;
            let mut acc: Option<Num> = None;
            for (s, d) in input.chunks_exact(os).zip(out.chunks_exact_mut(es)) {
                let v = self.astype.get(s);
                let next = match (acc, v) {
                    (None, v) => wrap(t, v),
                    (Some(Num::Int(a)), Num::Int(x)) => wrap(t, Num::Int(a + x)),
                    (Some(a), v) => Num::Float(t.round_to(a.as_f64() + v.as_f64())),
                };
                t.put(next, d);
                acc = Some(t.get(d));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn numcodecs_vectors() {
        // Delta("<u8").encode(np.array([1, 5, 3, 200, 7], "<u8")), numcodecs 0.16
        let d = Delta {
            dtype: Typed::parse("<u8").unwrap(),
            astype: Typed::parse("<u8").unwrap(),
        };
        let x: Vec<u8> = [1u64, 5, 3, 200, 7]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let enc = d.encode(&x).unwrap();
        assert_eq!(
            enc,
            hex("01000000000000000400000000000000feffffffffffffffc5000000000000003fffffffffffffff")
        );
        assert_eq!(d.decode(&enc).unwrap(), x);
        // Delta("<i4", astype="<i2").encode(np.array([1, -5, 3], "<i4"))
        let d = Delta {
            dtype: Typed::parse("<i4").unwrap(),
            astype: Typed::parse("<i2").unwrap(),
        };
        let x: Vec<u8> = [1i32, -5, 3].iter().flat_map(|v| v.to_le_bytes()).collect();
        let enc = d.encode(&x).unwrap();
        assert_eq!(enc, hex("0100faff0800"));
        assert_eq!(d.decode(&enc).unwrap(), x);
        // big-endian 16-bit and float round trips
        for t in [">u2", "<f8", ">f4", "|u1", "<i2"] {
            let d = Delta {
                dtype: Typed::parse(t).unwrap(),
                astype: Typed::parse(t).unwrap(),
            };
            let x: Vec<u8> = (0..64u8).map(|i| i.wrapping_mul(37)).collect();
            let x = if d.dtype.is_float() {
                (0..8)
                    .flat_map(|i| {
                        let mut b = [0u8; 8];
                        d.dtype.put(Num::Float(i as f64 * 1.5 - 3.0), &mut b);
                        b[..d.dtype.size()].to_vec()
                    })
                    .collect()
            } else {
                x
            };
            assert_eq!(d.decode(&d.encode(&x).unwrap()).unwrap(), x, "{t}");
        }
        assert!(d.encode(&[1, 2, 3]).is_err());
    }
}
