//! The binary's memory allocator: mimalloc for the server (`opendlc serve`), the C library's
//! for every other role.
//!
//! The server allocates and frees on many threads at once (requests, the engine, the pods' starts):
//! under a flood of jobs glibc's malloc took 5.4% of the busy CPU there, mimalloc about a third
//! less. The other roles are short single-threaded processes, and one of them, the shim launcher,
//! is forked once per pod: a shim forked from a launcher using mimalloc spent half as much again in
//! page faults (mimalloc spreads a few objects over many pages), which cost more than the server
//! gained (bench/README.md, 2026-12-04, late night). So the role is read from the command line
//! before `main` and before any allocation, and never changes in the process's life: every block is
//! freed by the allocator that made it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, Ordering};

use mimalloc::MiMalloc;

/// Whether this process is the server. Set once, before `main`, by [`note_role`].
static SERVER: AtomicBool = AtomicBool::new(false);

/// mimalloc in the server, the C library's allocator elsewhere.
pub struct ByRole;

impl ByRole {
    fn server() -> bool {
        SERVER.load(Ordering::Relaxed)
    }
}

// SAFETY: each call goes to one of two allocators that uphold GlobalAlloc's contract, and all
// calls in a process go to the same one: the choice is made before the first allocation.
unsafe impl GlobalAlloc for ByRole {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, passed on to the allocator of this process.
        unsafe {
            if Self::server() {
                MiMalloc.alloc(layout)
            } else {
                System.alloc(layout)
            }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, passed on to the allocator of this process.
        unsafe {
            if Self::server() {
                MiMalloc.alloc_zeroed(layout)
            } else {
                System.alloc_zeroed(layout)
            }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on to the allocator of this process.
        unsafe {
            if Self::server() {
                MiMalloc.dealloc(ptr, layout)
            } else {
                System.dealloc(ptr, layout)
            }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract, passed on to the allocator of this process.
        unsafe {
            if Self::server() {
                MiMalloc.realloc(ptr, layout, new_size)
            } else {
                System.realloc(ptr, layout, new_size)
            }
        }
    }
}

/// Run by the C library as the program starts, before `main` and before Rust's runtime has
/// allocated anything, with the program's arguments: glibc passes `argc`, `argv` and `envp`
/// to the functions of `.init_array` (the Rust standard library reads its arguments the same
/// way). Elsewhere (musl passes none) every role keeps the C library's allocator.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[used]
#[link_section = ".init_array"]
static NOTE_ROLE: extern "C" fn(
    libc::c_int,
    *const *const libc::c_char,
    *const *const libc::c_char,
) = note_role;

#[cfg(all(target_os = "linux", target_env = "gnu"))]
extern "C" fn note_role(
    argc: libc::c_int,
    argv: *const *const libc::c_char,
    _envp: *const *const libc::c_char,
) {
    if argc < 2 || argv.is_null() {
        return;
    }
    // SAFETY: glibc passes the process's own argv: argc valid pointers to C strings.
    let role = unsafe { std::ffi::CStr::from_ptr(*argv.add(1)) };
    if role.to_bytes() == b"serve" {
        without_huge_pages();
        SERVER.store(true, Ordering::Relaxed);
    }
}

/// `mi_option_allow_thp` in the `mimalloc.h` of mimalloc 3, the one Cargo.lock builds (the -sys
/// crate does not name it; mimalloc 2 numbers it 37, and has no option 43).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MI_OPTION_ALLOW_THP: libmimalloc_sys::mi_option_t = 43;

/// Tells mimalloc not to ask for transparent huge pages (`madvise(MADV_HUGEPAGE)` on the
/// memory it reserves). Where the host makes such a fault compact memory first (the kernel's
/// default for those regions: `transparent_hugepage/defrag` = `madvise`), a request that
/// grows the heap waited for it: GetJobMetrics of a week of a 100-pod job (7 MB of JSON) read
/// 61–97 ms at p99 with them, 43–44 without, 42–55 with glibc's malloc (bench/README.md).
///
/// mimalloc is started first (its own constructor may not have run yet: C constructors and
/// this one run in link order), then told, before anything is allocated from it. Through the
/// option, never the environment: mimalloc turns an `allow_thp` of 0 it finds as it starts into
/// `PR_SET_THP_DISABLE`, which every process the server starts would inherit, the pods with it.
/// Left alone if the option does not read 1, its default here (a mimalloc numbering its options
/// otherwise, or a user's `MIMALLOC_ALLOW_THP`); a test of the real server
/// (`the_servers_allocator_asks_for_no_huge_pages_and_bans_none_for_its_pods`) fails if it no
/// longer takes.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn without_huge_pages() {
    // SAFETY: mimalloc's start takes nothing and runs once; its option calls take and return
    // plain integers.
    unsafe {
        libmimalloc_sys::mi_process_init();
        if libmimalloc_sys::mi_option_get(MI_OPTION_ALLOW_THP) == 1 {
            libmimalloc_sys::mi_option_set(MI_OPTION_ALLOW_THP, 0);
        }
    }
}
