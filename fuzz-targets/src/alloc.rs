//! The `alloc` target: `RedisAllocator`'s `GlobalAlloc` methods, called by hand on an instance,
//! over the fake server allocator of [`crate::fake`].

use crate::fake;
use arbitrary::{Arbitrary, Unstructured};
use core::alloc::{GlobalAlloc, Layout};
use rmkit_alloc::{RedisAllocator, Stats, measure, stats};

/// Blocks live at once, at most.
const SLOTS: usize = 32;
/// Operations per input, at most.
const MAX_OPS: usize = 256;
/// The largest block (1 MiB).
const MAX_SIZE: usize = 1 << 20;
/// Allocations that would take the live total above this are skipped (keeps an input fast).
const MAX_LIVE: usize = 16 << 20;
/// The period of the fill pattern: a prime, so a block moved or copied by any power-of-two
/// offset no longer matches its pattern.
const PERIOD: usize = 251;

/// Environment variable choosing the fake's header (`8` or `16`, default 16; see [`fake`]).
pub const PREFIX_ENV: &str = "RMKIT_FUZZ_ALLOC_PREFIX";

/// One step of an `alloc` input. Slots are taken modulo 32, sizes spread over four ranges
/// (1..=32, ..=4 KiB, ..=64 KiB, ..=1 MiB), alignments are `1 << (align_log2 % 13)`.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Op {
    /// `alloc` into a slot (freeing what was there).
    Alloc { slot: u8, size: u32, align_log2: u8 },
    /// `alloc_zeroed` into a slot (freeing what was there).
    AllocZeroed { slot: u8, size: u32, align_log2: u8 },
    /// `alloc` inside `rmkit_alloc::measure`: the measured bytes must be what the server took.
    Measured { slot: u8, size: u32, align_log2: u8 },
    /// `realloc` a slot's block to a new size (nothing if the slot is empty).
    Realloc { slot: u8, size: u32 },
    /// `dealloc` a slot's block (nothing if the slot is empty).
    Dealloc { slot: u8 },
}

#[derive(Clone, Copy)]
struct Block {
    ptr: *mut u8,
    layout: Layout,
    seed: u8,
    /// Bytes this block grew without a call to the server (its usable size held them): the
    /// allocator counts them in `live_bytes`, the server's used memory does not.
    in_place: usize,
}

/// Installs the fake server allocator (once per process; the header comes from
/// `RMKIT_FUZZ_ALLOC_PREFIX`, 8 or 16). From then on every allocation through
/// `RedisAllocator` in this process — the global allocator of binaries linking this crate
/// included — is served by the fake.
pub fn install_fake_server_allocator() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let prefix = match std::env::var(PREFIX_ENV).as_deref() {
            Ok("8") => 8,
            Ok("16") | Err(_) => 16,
            Ok(other) => panic!("{PREFIX_ENV}={other}: use 8 or 16"),
        };
        fake::set_prefix(prefix);
        // SAFETY: the fake's functions are thread-safe and live as long as the process, and no
        // other server allocator is ever installed in it.
        if let Err(e) = unsafe { rmkit_alloc::install(fake::api()) } {
            panic!("installing the fake server allocator failed: {e}");
        }
    });
    let s = stats();
    assert!(s.routed, "the fake server allocator is not installed");
    assert_eq!(s.min_align, fake::prefix(), "probed alignment of the fake");
}

fn size(raw: u32) -> usize {
    let r = raw as usize;
    1 + match raw >> 30 {
        0 => r % 32,
        1 => r % 4096,
        2 => r % 65536,
        _ => r % MAX_SIZE,
    }
}

fn layout(raw_size: u32, align_log2: u8) -> Layout {
    Layout::from_size_align(size(raw_size), 1 << (align_log2 % 13)).expect("valid layout")
}

fn pattern(seed: u8, i: usize) -> u8 {
    seed ^ (i % PERIOD) as u8
}

/// Writes the block's pattern into bytes `from..to` (`0..from` already hold it).
///
/// # Safety
/// `p` is valid for writes of `to` bytes.
unsafe fn fill(p: *mut u8, from: usize, to: usize, seed: u8) {
    let mut i = from;
    while i < to && i < PERIOD {
        // SAFETY: i < to.
        unsafe { p.add(i).write(pattern(seed, i)) };
        i += 1;
    }
    while i < to {
        // Copy a whole number of periods from just behind: doubling, so a 1 MiB block takes
        // a dozen copies (fast under Miri too).
        let back = i / PERIOD * PERIOD;
        let n = back.min(to - i);
        // SAFETY: `i - back .. i - back + n` and `i .. i + n` are inside the block and do not
        // overlap (n <= back); the source bytes are initialised.
        unsafe { core::ptr::copy_nonoverlapping(p.add(i - back), p.add(i), n) };
        i += n;
    }
}

/// Checks that the first `len` bytes hold the block's pattern.
///
/// # Safety
/// `p` is valid for reads of `len` initialised bytes.
unsafe fn verify(p: *const u8, len: usize, seed: u8, what: &str) {
    // SAFETY: see the contract.
    let s = unsafe { core::slice::from_raw_parts(p, len) };
    if let Some(i) = (0..len.min(PERIOD)).find(|&i| s[i] != pattern(seed, i)) {
        panic!(
            "{what}: byte {i} of {len} is {:#x}, not {:#x}",
            s[i],
            pattern(seed, i)
        );
    }
    // With the first period right, "equal to the byte one period earlier" everywhere is the
    // whole pattern (and one memcmp).
    if len > PERIOD && s[PERIOD..] != s[..len - PERIOD] {
        let i = (PERIOD..len).find(|&i| s[i] != s[i - PERIOD]).unwrap_or(0);
        panic!(
            "{what}: byte {i} of {len} is {:#x}, not {:#x}",
            s[i],
            pattern(seed, i)
        );
    }
}

struct Run {
    a: RedisAllocator,
    slots: [Option<Block>; SLOTS],
    start: Stats,
    start_used: usize,
    start_blocks: usize,
    next_seed: u8,
}

impl Run {
    fn live(&self) -> impl Iterator<Item = &Block> {
        self.slots.iter().flatten()
    }

    /// Counters after every step: one server block per live block, the allocator's live bytes
    /// move exactly like the server's used memory, and by between `size` and `size + align`
    /// per block.
    fn check_counters(&self, after: &dyn core::fmt::Debug) {
        let s = stats();
        let blocks = self.live().count();
        let (min, max) = self.live().fold((0, 0), |(lo, hi), b| {
            (
                lo + b.layout.size(),
                hi + b.layout.size() + b.layout.align(),
            )
        });
        let bytes = s.live_bytes.wrapping_sub(self.start.live_bytes);
        let in_place: usize = self.live().map(|b| b.in_place).sum();
        let used = fake::used()
            .wrapping_sub(self.start_used)
            .wrapping_add(in_place);
        assert_eq!(
            s.live_allocations.wrapping_sub(self.start.live_allocations),
            blocks,
            "live_allocations after {after:?}"
        );
        assert_eq!(
            fake::live_blocks().wrapping_sub(self.start_blocks),
            blocks,
            "server blocks after {after:?}"
        );
        assert_eq!(
            bytes, used,
            "live_bytes vs the server's used memory (plus in-place growth) after {after:?}"
        );
        assert!(
            (min..=max).contains(&bytes),
            "live_bytes {bytes} outside {min}..={max} after {after:?}"
        );
        assert!(
            s.peak_bytes >= s.live_bytes,
            "peak below live after {after:?}"
        );
    }

    fn free(&mut self, slot: usize) {
        let Some(b) = self.slots[slot].take() else {
            return;
        };
        // SAFETY: `b` is live, filled with its pattern, and was allocated by `self.a` with
        // `b.layout`.
        unsafe {
            verify(b.ptr, b.layout.size(), b.seed, "dealloc");
            self.a.dealloc(b.ptr, b.layout);
        }
    }

    fn allocate(&mut self, slot: usize, layout: Layout, how: &str) {
        self.free(slot);
        let live: usize = self.live().map(|b| b.layout.size()).sum();
        if live + layout.size() > MAX_LIVE {
            return;
        }
        let used_before = fake::used();
        // SAFETY: `layout` has a non-zero size.
        let ptr = unsafe {
            match how {
                "alloc_zeroed" => self.a.alloc_zeroed(layout),
                "measure(alloc)" => {
                    let (p, bytes) = measure(|| self.a.alloc(layout));
                    let took = fake::used().wrapping_sub(used_before);
                    assert_eq!(bytes, took as isize, "measured vs taken for {layout:?}");
                    p
                }
                _ => self.a.alloc(layout),
            }
        };
        assert!(!ptr.is_null(), "{how} {layout:?} returned null");
        assert_eq!(
            ptr as usize % layout.align(),
            0,
            "{how} {layout:?}: {ptr:?}"
        );
        let (start, end) = (ptr as usize, ptr as usize + layout.size());
        if let Some(o) = self.live().find(|o| {
            let (s, e) = (o.ptr as usize, o.ptr as usize + o.layout.size());
            start < e && s < end
        }) {
            panic!(
                "{how} {layout:?} = {ptr:?} overlaps {:?} {:?}",
                o.ptr, o.layout
            );
        }
        if how == "alloc_zeroed" {
            // SAFETY: alloc_zeroed initialised all `size` bytes.
            let s = unsafe { core::slice::from_raw_parts(ptr, layout.size()) };
            assert!(
                s[0] == 0 && s[1..] == s[..s.len() - 1],
                "alloc_zeroed {layout:?}: not zeroed"
            );
        }
        let seed = self.next_seed;
        self.next_seed = self.next_seed.wrapping_add(97);
        // SAFETY: the block is `size` bytes.
        unsafe { fill(ptr, 0, layout.size(), seed) };
        self.slots[slot] = Some(Block {
            ptr,
            layout,
            seed,
            in_place: 0,
        });
    }

    fn realloc(&mut self, slot: usize, new_size: usize) {
        let Some(b) = self.slots[slot] else {
            return;
        };
        let live: usize = self.live().map(|b| b.layout.size()).sum();
        if live - b.layout.size() + new_size > MAX_LIVE {
            return;
        }
        let (live_before, used_before) = (stats().live_bytes, fake::used());
        // SAFETY: `b` is live and was allocated by `self.a` with `b.layout`; `new_size` is
        // non-zero and small.
        let p = unsafe {
            verify(b.ptr, b.layout.size(), b.seed, "before realloc");
            self.a.realloc(b.ptr, b.layout, new_size)
        };
        // Grown where it is, with no server call: the server's count of the block stays.
        let in_place = if p == b.ptr && fake::used() == used_before {
            b.in_place + stats().live_bytes.wrapping_sub(live_before)
        } else {
            0
        };
        assert!(
            !p.is_null(),
            "realloc {:?} to {new_size} returned null",
            b.layout
        );
        let align = b.layout.align();
        assert_eq!(
            p as usize % align,
            0,
            "realloc {:?} to {new_size}: {p:?}",
            b.layout
        );
        let kept = b.layout.size().min(new_size);
        // SAFETY: the new block is `new_size` bytes; its first `kept` are the old contents.
        unsafe {
            verify(p, kept, b.seed, "contents after realloc");
            fill(p, kept, new_size, b.seed);
        }
        let layout = Layout::from_size_align(new_size, align).expect("valid layout");
        self.slots[slot] = Some(Block {
            ptr: p,
            layout,
            in_place,
            ..b
        });
    }
}

/// The `alloc` target: up to 256 operations (alloc, alloc_zeroed, alloc inside `measure`,
/// realloc, dealloc) decoded with `arbitrary` one after the other until the input is used up
/// (an enum tag is a little-endian `u32` scaled to the 5 variants, then the fields in order:
/// `slot: u8`, `size: u32` LE, `align_log2: u8`), run against a `RedisAllocator` instance over
/// the fake server allocator (see the crate docs for why the process must not allocate on
/// other threads meanwhile). Checks alignment, zeroing, that realloc keeps contents, that live
/// blocks never overlap or get overwritten, the counters after every step, and that freeing
/// everything brings `stats().live_bytes` and `live_allocations` (and the fake's used memory)
/// back to where they started.
pub fn alloc(data: &[u8]) {
    install_fake_server_allocator();
    let mut run = Run {
        a: RedisAllocator::new(),
        slots: [None; SLOTS],
        start: stats(),
        start_used: fake::used(),
        start_blocks: fake::live_blocks(),
        next_seed: 1,
    };
    let mut u = Unstructured::new(data);
    for _ in 0..MAX_OPS {
        if u.is_empty() {
            break;
        }
        let Ok(op) = Op::arbitrary(&mut u) else { break };
        match op {
            Op::Alloc {
                slot,
                size,
                align_log2,
            } => run.allocate(slot as usize % SLOTS, layout(size, align_log2), "alloc"),
            Op::AllocZeroed {
                slot,
                size,
                align_log2,
            } => run.allocate(
                slot as usize % SLOTS,
                layout(size, align_log2),
                "alloc_zeroed",
            ),
            Op::Measured {
                slot,
                size,
                align_log2,
            } => run.allocate(
                slot as usize % SLOTS,
                layout(size, align_log2),
                "measure(alloc)",
            ),
            Op::Realloc { slot, size: s } => run.realloc(slot as usize % SLOTS, size(s)),
            Op::Dealloc { slot } => run.free(slot as usize % SLOTS),
        }
        run.check_counters(&op);
    }
    for slot in 0..SLOTS {
        run.free(slot);
    }
    run.check_counters(&"freeing everything");
    let end = stats();
    assert_eq!(
        end.live_bytes, run.start.live_bytes,
        "live_bytes after freeing everything"
    );
    assert_eq!(
        end.live_allocations, run.start.live_allocations,
        "live_allocations after freeing everything"
    );
}
