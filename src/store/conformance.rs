//! The behaviour every store must have, as one suite that each backend's tests run on a
//! fresh, empty store (in the manner of zarrs_storage's store tests and tensorstore's
//! kvstore test utilities). `check_readable` is the read-only half, for stores that cannot
//! be written through the trait (HTTP): the caller puts `fixture()` there first.

use super::{ByteRange, Store, Update};
use crate::error::{Error, Result};
use std::sync::atomic::{AtomicBool, Ordering};

/// Values the read-only half expects under `prefix` (key relative to it, value).
pub(crate) fn fixture() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("a/b", (0u8..200).collect()),
        ("a/c/d", b"deep".to_vec()),
        ("a/.zattrs", b"{}".to_vec()),
        ("empty", Vec::new()),
    ]
}

/// Run every check on `store`, which must be empty (the whole suite, writes included).
pub(crate) fn check_store(store: &dyn Store) {
    let p = "conf";
    for (k, v) in fixture() {
        store.put(&format!("{p}/{k}"), &v).unwrap();
    }
    check_readable(store, p);
    check_puts(store);
    check_deletes(store);
    check_listings(store);
    check_updates(store);
    check_concurrent_updates(store, "counters/threads", 8, 25);
    check_atomic_puts(store);
}

/// The read-only checks, on `fixture()` stored under `prefix`.
pub(crate) fn check_readable(store: &dyn super::ReadableStore, prefix: &str) {
    let key = |k: &str| super::join(prefix, k);
    let ab: Vec<u8> = (0u8..200).collect();
    // get, get_into (replacing what the buffer held), size
    assert_eq!(store.get(&key("a/b")).unwrap().as_deref(), Some(&ab[..]));
    let mut buf = vec![7u8; 1000];
    assert!(store.get_into(&key("a/c/d"), &mut buf).unwrap());
    assert_eq!(buf, b"deep");
    assert_eq!(store.get(&key("empty")).unwrap(), Some(Vec::new()));
    assert_eq!(store.size(&key("a/b")).unwrap(), Some(200));
    assert_eq!(store.size(&key("empty")).unwrap(), Some(0));
    // missing values, and prefixes that are not values
    for missing in ["nothing", "a/nothing", "a", "a/c", "nothing/deeper"] {
        let k = key(missing);
        assert_eq!(store.get(&k).unwrap(), None, "{k}");
        assert!(!store.get_into(&k, &mut buf).unwrap(), "{k}");
        assert_eq!(store.size(&k).unwrap(), None, "{k}");
        assert_eq!(store.get_ranges(&k, &[ByteRange::Suffix(1)]).unwrap(), None);
    }
    // ranges, in the order asked, Suffix included
    let got = store
        .get_ranges(
            &key("a/b"),
            &[
                ByteRange::Span(10..20),
                ByteRange::Suffix(5),
                ByteRange::Span(0..0),
                ByteRange::Span(200..200),
                ByteRange::Span(0..200),
                ByteRange::Suffix(200),
                ByteRange::Span(3..4),
            ],
        )
        .unwrap()
        .unwrap();
    assert_eq!(got[0], &ab[10..20]);
    assert_eq!(got[1], &ab[195..]);
    assert!(got[2].is_empty() && got[3].is_empty());
    assert_eq!(got[4], ab);
    assert_eq!(got[5], ab);
    assert_eq!(got[6], [3]);
    assert_eq!(store.get_ranges(&key("a/b"), &[]).unwrap(), Some(vec![]));
    // out-of-range requests are errors that name the value's location
    #[allow(clippy::reversed_empty_ranges)] // a reversed range is one of the bad requests
    for bad in [
        ByteRange::Span(190..201),
        ByteRange::Span(300..400),
        ByteRange::Suffix(201),
        ByteRange::Span(20..10),
    ] {
        let err = store
            .get_ranges(&key("a/b"), &[ByteRange::Span(0..1), bad.clone()])
            .unwrap_err();
        let loc = store.location(&key("a/b"));
        assert!(err.to_string().contains(&loc), "{bad:?}: {err} lacks {loc}");
    }
}

fn check_puts(store: &dyn Store) {
    store
        .put_parts("p/parts", &[b"ab", b"", b"cde", b"f"])
        .unwrap();
    assert_eq!(store.get("p/parts").unwrap().unwrap(), b"abcdef");
    store.put_parts("p/none", &[]).unwrap();
    assert_eq!(store.get("p/none").unwrap().unwrap(), b"");
    // overwrite, longer and shorter
    store.put("p/x", b"first").unwrap();
    store.put("p/x", b"the second value").unwrap();
    assert_eq!(store.get("p/x").unwrap().unwrap(), b"the second value");
    store.put("p/x", b"3").unwrap();
    assert_eq!(store.get("p/x").unwrap().unwrap(), b"3");
    // a large value from many parts
    let parts: Vec<Vec<u8>> = (0..300u32)
        .map(|i| vec![i as u8; 1000 + i as usize])
        .collect();
    let refs: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
    store.put_parts("p/big", &refs).unwrap();
    assert_eq!(store.get("p/big").unwrap().unwrap(), parts.concat());
    // keys with dots, as chunk and metadata keys have them
    store.put("p/0.0.1", b"c").unwrap();
    store.put("p/.zarray", b"{}").unwrap();
    assert_eq!(store.get("p/0.0.1").unwrap().unwrap(), b"c");
    assert_eq!(store.get("p/.zarray").unwrap().unwrap(), b"{}");
}

fn check_deletes(store: &dyn Store) {
    for k in ["d/a/b/c", "d/a/b/d", "d/a/e", "d/ab/x", "d/a.b", "d/z"] {
        store.put(k, k.as_bytes()).unwrap();
    }
    store.delete("d/z").unwrap();
    assert_eq!(store.get("d/z").unwrap(), None);
    store.delete("d/z").unwrap(); // a missing value is not an error
    store.delete("d/never/there").unwrap();
    store.delete_prefix("d/a/b").unwrap();
    assert_eq!(
        store.list_prefix("d").unwrap(),
        ["d/a.b", "d/a/e", "d/ab/x"]
    );
    store.delete_prefix("d/a").unwrap(); // "d/ab" and "d/a.b" only share letters
    assert_eq!(store.list_prefix("d").unwrap(), ["d/a.b", "d/ab/x"]);
    store.delete_prefix("d/a.b").unwrap(); // a value is its own prefix
    store.delete_prefix("d/missing").unwrap();
    assert_eq!(store.list_prefix("d").unwrap(), ["d/ab/x"]);
    store.delete_prefix("d").unwrap();
    assert!(store.list_prefix("d").unwrap().is_empty());
    assert!(store.list_dir("d").unwrap().keys.is_empty());
}

fn check_listings(store: &dyn Store) {
    for k in [
        "l/b",
        "l/a",
        "l/.zattrs",
        "l/c/1",
        "l/c/0/x",
        "l/c.d",
        "l/a0/y",
        "m/1",
    ] {
        store.put(k, b"v").unwrap();
    }
    let l = store.list_dir("l").unwrap();
    assert_eq!(l.keys, ["l/.zattrs", "l/a", "l/b", "l/c.d"]);
    assert_eq!(l.prefixes, ["l/a0", "l/c"]);
    let c = store.list_dir("l/c").unwrap();
    assert_eq!(
        (c.keys, c.prefixes),
        (vec!["l/c/1".to_string()], vec!["l/c/0".to_string()])
    );
    assert_eq!(store.list_dir("l/nothing").unwrap(), Default::default());
    assert_eq!(store.list_dir("l/b").unwrap(), Default::default()); // a value is no prefix
    assert_eq!(
        store.list_prefix("l").unwrap(),
        [
            "l/.zattrs",
            "l/a",
            "l/a0/y",
            "l/b",
            "l/c.d",
            "l/c/0/x",
            "l/c/1"
        ]
    );
    assert!(store.list_prefix("l/nothing").unwrap().is_empty());
    assert!(store.prefix_exists("l").unwrap() && store.prefix_exists("l/c/0").unwrap());
    assert!(!store.prefix_exists("l/nothing").unwrap());
    let root = store.list_dir("").unwrap();
    assert!(root.prefixes.contains(&"l".to_string()) && root.prefixes.contains(&"m".into()));
    let all = store.list_prefix("").unwrap();
    assert!(all.contains(&"m/1".to_string()) && all.contains(&"l/c/0/x".to_string()));
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(all, sorted);
    store.delete_prefix("l").unwrap();
    store.delete_prefix("m").unwrap();
}

fn check_updates(store: &dyn Store) {
    let k = "u/value";
    let mut seen = Vec::new();
    let put = |v: &'static [u8]| {
        move |old: Option<&[u8]>| -> Result<Update> {
            let _ = old;
            Ok(Update::Put(vec![v.to_vec().into(), b"!".to_vec().into()]))
        }
    };
    store
        .update(k, &mut |old| {
            seen.push(old.map(<[u8]>::to_vec));
            put(b"one")(old)
        })
        .unwrap();
    assert_eq!(store.get(k).unwrap().unwrap(), b"one!");
    store
        .update(k, &mut |old| {
            seen.push(old.map(<[u8]>::to_vec));
            Ok(Update::Keep)
        })
        .unwrap();
    assert_eq!(seen, [None, Some(b"one!".to_vec())]);
    assert_eq!(store.get(k).unwrap().unwrap(), b"one!");
    // a failing update changes nothing and its error comes out
    let err = store
        .update(k, &mut |_| Err(Error::invalid("refused by the test")))
        .unwrap_err();
    assert!(err.to_string().contains("refused by the test"));
    assert_eq!(store.get(k).unwrap().unwrap(), b"one!");
    store.update(k, &mut |_| Ok(Update::Delete)).unwrap();
    assert_eq!(store.get(k).unwrap(), None);
    store.update(k, &mut |_| Ok(Update::Delete)).unwrap();
    store.update("u/new/deep/key", &mut put(b"x")).unwrap();
    assert_eq!(store.get("u/new/deep/key").unwrap().unwrap(), b"x!");
    // a chunk's update names its array's node, directories above the value
    store.update_under("u", "u/c/0/1", &mut put(b"c")).unwrap();
    assert_eq!(store.get("u/c/0/1").unwrap().unwrap(), b"c!");
    store.update_under("", "u/c/0/2", &mut put(b"r")).unwrap();
    assert_eq!(store.get("u/c/0/2").unwrap().unwrap(), b"r!");
    // a node that does not hold the key is refused, naming both, and changes nothing
    for (node, key) in [("v", "u/c/0/3"), ("u/c", "u/cc/0"), ("u/c/0/3", "u/c/0/3")] {
        let err = store.update_under(node, key, &mut put(b"no")).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains(key) && msg.contains("not below the node"),
            "{msg}"
        );
        assert_eq!(store.get(key).unwrap(), None);
    }
    // nothing but values is listed after updates (no lock files, no temporaries)
    let listed = store.list_prefix("u").unwrap();
    assert_eq!(listed, ["u/c/0/1", "u/c/0/2", "u/new/deep/key"]);
    store.delete_prefix("u").unwrap();
}

/// Increment the decimal counter at `key` by one through `update`.
pub(crate) fn increment(store: &dyn Store, key: &str) -> Result<()> {
    store.update(key, &mut |old| {
        let n: u64 = match old {
            None => 0,
            Some(b) => std::str::from_utf8(b).unwrap().parse().unwrap(),
        };
        Ok(Update::Put(vec![(n + 1).to_string().into_bytes().into()]))
    })
}

/// `threads` threads each increment the counter at `key` `n` times: none is lost.
pub(crate) fn check_concurrent_updates(store: &dyn Store, key: &str, threads: usize, n: usize) {
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                for _ in 0..n {
                    increment(store, key).unwrap();
                }
            });
        }
    });
    let v = store.get(key).unwrap().unwrap();
    assert_eq!(std::str::from_utf8(&v).unwrap(), (threads * n).to_string());
    assert_eq!(
        store
            .list_prefix(key.rsplit_once('/').map_or("", |p| p.0))
            .unwrap(),
        [key]
    );
    store.delete(key).unwrap();
}

/// Readers never see a value that is neither the old nor the new one.
fn check_atomic_puts(store: &dyn Store) {
    let (a, b) = (vec![b'a'; 1 << 18], vec![b'b'; (1 << 18) + 1000]);
    store.put("atomic/v", &a).unwrap();
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            for i in 0..40 {
                let v = if i % 2 == 0 { &b } else { &a };
                let (h, t) = v.split_at(1000);
                store.put_parts("atomic/v", &[h, t]).unwrap();
            }
            done.store(true, Ordering::SeqCst);
        });
        let mut buf = Vec::new();
        while !done.load(Ordering::SeqCst) {
            assert!(store.get_into("atomic/v", &mut buf).unwrap());
            assert!(buf == a || buf == b, "a torn value of {} bytes", buf.len());
        }
    });
    store.delete_prefix("atomic").unwrap();
}
