//! The process's memory: mimalloc as the allocator, in small pages.
//!
//! mimalloc keeps freed memory for reuse. With glibc's malloc every batch of
//! large values (8192 x 1 KiB) was mapped, faulted in, zeroed and unmapped
//! again, which cost more than encrypting it (bench/README.md, issue 8).
//!
//! mimalloc also asks Linux for transparent huge pages. Then the first
//! touch of any byte of a 2 MiB region faults in and zeroes all of it, and
//! mimalloc spreads a query's buffers over many such regions (per thread,
//! per size class): a decrypt of 10M values committed ~120 MiB for a live
//! heap that heaptrack measured at 18 MiB. Memory fresh to a process is the
//! dearest thing a query touches on a virtual machine (the host backs each
//! page on first use), and a `sealhouse sql` process starts fresh. With
//! huge pages off, only touched 4 KiB pages are faulted in: same median CPU
//! and a far narrower spread (BENCHMARKS.md, "Batches bounded by bytes").

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Turns transparent huge pages off for this process (and what it starts):
/// the kernel checks the flag at each fault, so it covers memory mimalloc
/// reserved before `main`. Where the call is refused (an old kernel, a
/// sandbox), the process runs as before.
pub(crate) fn without_huge_pages() {
    #[cfg(target_os = "linux")]
    {
        let _ = rustix::thread::disable_transparent_huge_pages(true);
    }
}
